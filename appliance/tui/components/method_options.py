"""Fields for the chosen generation method's options, built from the method's declarations (the same ones the CLI
turns into flags): one input per option, titled with its name, its default as placeholder and its help as tooltip.
An empty field means the method's default."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Input

from appliance.generate import method_class


class MethodOptions(Grid):
    DEFAULT_CSS = """
    MethodOptions { grid-size: 5; grid-gutter: 0 1; height: auto; }
    MethodOptions Input { width: 1fr; }
    """

    def __init__(self, method: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.method = method

    def compose(self) -> ComposeResult:
        yield from self._fields()

    def _fields(self) -> list[Input]:
        fields = []
        for opt in method_class(self.method).declared().values():
            kind = {int: "integer", float: "number"}.get(opt.type, "text")
            field = Input(placeholder="default" if opt.default is None else f"default {opt.default}", type=kind,
                          id=f"gen-opt-{opt.name}", tooltip=opt.help)
            field.border_title = opt.name
            fields.append(field)
        return fields

    async def show(self, method: str) -> None:
        """Replace the fields by those of ``method``."""
        if method == self.method:
            return
        self.method = method
        await self.remove_children()
        await self.mount_all(self._fields())

    def values(self) -> dict[str, Any]:
        """The options typed, checked against the declarations (a one-line ``BadInput`` otherwise); empty ones
        left out, so the method's defaults apply."""
        out = {}
        for opt in method_class(self.method).declared().values():
            value = opt.parse(self.query_one(f"#gen-opt-{opt.name}", Input).value, self.method)
            if value is not None:
                out[opt.name] = value
        return out


__all__ = ["MethodOptions"]
