"""Generation methods, each a small module behind one interface, selectable by name."""

from __future__ import annotations

import dataclasses
from typing import Any

from appliance.errors import UserError
from appliance.generate.attrprompt import AttrPrompt
from appliance.generate.augpe import AugPE
from appliance.generate.base import Method, Progress
from appliance.generate.dino import Dino
from appliance.generate.fewgen import FewGen
from appliance.generate.progen import ProGen
from appliance.generate.records import GeneratedRecord
from appliance.generate.supergen import SuperGen
from appliance.generate.zerogen import ZeroGen

METHODS: dict[str, type] = {
    "zerogen": ZeroGen,
    "fewgen": FewGen,
    "progen": ProGen,
    "attrprompt": AttrPrompt,
    "dino": Dino,
    "supergen": SuperGen,
    "augpe": AugPE,
}


def get_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """The method called ``name``, configured with those ``options`` (None values skipped) it has a field for;
    an option the method has no field for is an error, so a misspelt or misplaced option is never ignored."""
    try:
        cls = METHODS[name]
    except KeyError:
        raise UserError(f"unknown method: {name} (known: {', '.join(METHODS)})") from None
    opts = {k: v for k, v in (options or {}).items() if v is not None}
    known = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(opts) - known)
    if bad:
        raise UserError(f"method {name} takes no option {', '.join(bad)}")
    return cls(**opts)


__all__ = ["GeneratedRecord", "Method", "METHODS", "Progress", "get_method"]
