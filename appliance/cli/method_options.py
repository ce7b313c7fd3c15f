"""The command-line flags of the generation methods' options, built from the methods' declarations.

Every option some registered method declares becomes one flag (``noise_multiplier`` → ``--noise-multiplier``), its
help naming the methods that take it and their defaults; a method added to the registry brings its flags with it.
Flags default to None (the method's own default then applies) and the method checks the values it is given, so a
flag the chosen method does not take is refused before anything runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from appliance.generate import METHODS, Option

# Decoding settings are fields of the generation request itself (stored in every job); see GenerationRequest.options.
REQUEST_FIELDS = ("temperature", "top_p")


def declared_options() -> dict[str, tuple[Option, dict[str, Any]]]:
    """Every declared option by name: its first declaration, and each method that takes it with its default."""
    out: dict[str, tuple[Option, dict[str, Any]]] = {}
    for method_name, cls in METHODS.items():
        for opt in cls.declared().values():
            out.setdefault(opt.name, (opt, {}))[1][method_name] = opt.default
    return out


def _help(name: str, takers: dict[str, Any]) -> str:
    """``methods: help (default …)``, one part per distinct help text (``rounds`` means one thing to ProGen and
    another to Aug-PE)."""
    parts: dict[str, dict[str, Any]] = {}
    for method_name, default in takers.items():
        parts.setdefault(METHODS.get(method_name).declared()[name].help, {})[method_name] = default
    out = []
    for text, group in parts.items():
        who = "every method" if len(group) == len(METHODS) else ", ".join(group)
        defaults = set(map(repr, group.values()))
        if defaults == {"None"}:
            default = ""
        elif len(defaults) == 1:
            default = f" (default {next(iter(group.values()))})"
        else:
            default = " (default " + ", ".join(f"{m} {d}" for m, d in group.items() if d is not None) + ")"
        out.append(f"{who}: {text}{default}")
    return "; ".join(out).replace("%", "%%")


def add_method_options(p: argparse.ArgumentParser) -> None:
    """One flag per declared option, in a group of their own in ``--help``."""
    group = p.add_argument_group("method options", "declared by the generation methods; each names the methods that take it")
    for name, (opt, takers) in declared_options().items():
        kind = opt.type if opt.type in (int, float, str) else str
        metavar = {int: "N", float: "X"}.get(kind, "VALUE")
        group.add_argument(opt.flag, dest=name, type=kind, default=None, metavar=metavar, help=_help(name, takers))


def method_options_from(args: argparse.Namespace) -> dict[str, Any]:
    """The method options given on the command line (decoding settings excluded: the request carries those)."""
    return {name: getattr(args, name) for name in declared_options()
            if name not in REQUEST_FIELDS and getattr(args, name, None) is not None}


__all__ = ["add_method_options", "declared_options", "method_options_from"]
