"""One shape for every extension point: a named registry that plug-ins join by decorator.

Methods, recognizers, export formats and task models each keep one ``Registry``. A plug-in module registers itself
(``@METHODS.register``), and the registry discovers its package's modules on first use, so adding a plug-in is its
module and its test: no list kept by hand elsewhere. Looking up an unknown name is the user's mistake and gets one
line naming the known ones; registering a name twice is ours and raises at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

from appliance.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """Named plug-ins of one kind (``kind`` is how errors speak of them: "method", "export format", …).

    ``package``: the dotted package whose modules hold the plug-ins; each is imported once, on first lookup, so a
    module dropped into that package is found without editing any list."""

    def __init__(self, kind: str, package: str | None = None, name_of: Callable[[T], str] | None = None) -> None:
        self.kind = kind
        self.package = package
        self._name_of = name_of or (lambda obj: getattr(obj, "name"))
        self._items: dict[str, T] = {}
        self._discovered = package is None

    def register(self, obj: T) -> T:
        """Add ``obj`` under its name; usable as a decorator. A second plug-in with the same name is a bug."""
        name = self._name_of(obj)
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"two {self.kind}s are named {name!r}")
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove a plug-in (tests that register a small one clean up with this)."""
        self._items.pop(name, None)

    def discover(self) -> None:
        """Import every module of the package once, so each registers itself. Only names a module can have are
        imported: a file manager's "zerogen copy.py" or an editor's "zerogen (1).py" is not a plug-in (imported, it
        would register a second "zerogen" and stop every command)."""
        if self._discovered:
            return
        self._discovered = True
        pkg = importlib.import_module(self.package)  # type: ignore[arg-type]
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if info.name.isidentifier() and not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def get(self, name: str) -> T:
        """The plug-in called ``name``; an unknown name is one line listing the known ones."""
        self.discover()
        try:
            return self._items[name]
        except KeyError:
            raise BadInput(f"unknown {self.kind}: {name} (known: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        self.discover()
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        self.discover()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


__all__ = ["Registry"]
