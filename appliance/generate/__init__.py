"""Generation methods, each a small module behind one base class (``base.Method``), selectable by name.

Every module of this package that defines a method registers it (``@METHODS.register``); ``METHODS`` finds them
on first use, so no list of methods is kept by hand anywhere.
"""

from __future__ import annotations

from typing import Any

from appliance.generate.base import METHODS, Method, Progress
from appliance.generate.options import Capabilities, Option
from appliance.generate.records import GeneratedRecord


def method_class(name: str) -> type[Method]:
    """The method called ``name``; an unknown name is a one-line ``BadInput`` listing the known ones."""
    return METHODS.get(name)


def get_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """The method called ``name``, configured with ``options`` (None values skipped), each checked against the
    method's declarations before any work: an option the method does not declare, or a value of the wrong type or
    out of bounds, is a one-line ``BadInput``, so a misspelt or misplaced option is never ignored."""
    return method_class(name)(**(options or {}))


__all__ = ["Capabilities", "GeneratedRecord", "Method", "METHODS", "Option", "Progress", "get_method", "method_class"]
