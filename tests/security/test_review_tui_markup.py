"""Review attack on the interface: values that others chose (a record's text, a seed file's cells and column names,
a task or seed set name in the audit log, a file name in an error) holding Rich markup. "[/]" raised MarkupError
and closed the interface with a traceback of its local variables; "[@click=…]" became a live action."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App, ComposeResult

from appliance.errors import BadInput
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.components.records_table import RecordsTable
from appliance.tui.screens.base import report_error

HOSTILE = "a [/] b [/bold] [@click=app.quit]click me[/] [link=https://evil.example]x[/link]"


class _Tables(App):
    def compose(self) -> ComposeResult:
        yield PlainTable(id="plain")
        yield RecordsTable(id="records")


def test_markup_in_table_cells_and_error_messages_is_shown_as_characters() -> None:
    async def main() -> None:
        app = _Tables()
        async with app.run_test() as pilot:
            plain = app.query_one("#plain", PlainTable)
            plain.add_column("value")
            plain.add_row(HOSTILE)
            app.query_one("#records", RecordsTable).add_records([{"id": 1, "label": "[/]", "text": HOSTILE}])
            report_error(app, BadInput(f"seed.csv: missing column {HOSTILE!r}"))
            report_error(app, RuntimeError(HOSTILE))
            await pilot.pause()
            cell = plain.get_row_at(0)[0]
            assert isinstance(cell, Text) and cell.plain == HOSTILE and not cell.spans
            shown = [n.message for n in app._notifications]
            assert all(HOSTILE in str(m) for m in shown) and len(shown) == 2
        assert app.return_code in (None, 0)  # nothing closed the interface

    asyncio.run(main())
