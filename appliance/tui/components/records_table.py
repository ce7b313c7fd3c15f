"""A table of generated records (id, label, status, text) that grows as batches arrive."""

from __future__ import annotations

from typing import Any, Iterable

from appliance.tui.components.plain_table import PlainTable


class RecordsTable(PlainTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("id", key="id")
        self.add_column("label", key="label")
        self.add_column("text", key="text")

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.add_row(str(r["id"]), r.get("label") or "", _one_line(r.get("text") or ""), key=str(r["id"]))
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
