"""A DataTable whose text cells are shown as typed, never read as markup.

Textual's DataTable parses a ``str`` cell as Rich markup: a record text, a seed file's value, a task or seed set name
or an audit entry holding ``[/]`` raised ``MarkupError`` and closed the interface (printing a traceback with its
local variables), and ``[@click=…]`` or ``[link=…]`` turned into live actions. Every table of the interface is a
``PlainTable``, so a value someone else chose is only ever characters on the screen.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class PlainTable(DataTable):
    def add_row(self, *cells: Any, **kw: Any) -> RowKey:
        return super().add_row(*(Text(c, end="") if isinstance(c, str) else c for c in cells), **kw)


__all__ = ["PlainTable"]
