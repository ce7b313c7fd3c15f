"""Generation methods, each a small module behind one interface, selectable by name."""

from __future__ import annotations

from appliance.errors import UserError
from appliance.generate.base import Method, Progress
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen

METHODS: dict[str, type] = {"zerogen": ZeroGen}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]()
    except KeyError:
        raise UserError(f"unknown method: {name} (known: {', '.join(METHODS)})") from None


__all__ = ["GeneratedRecord", "Method", "METHODS", "Progress", "get_method"]
