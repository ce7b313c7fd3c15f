"""Seeds (authors): preview a file, map its text and label columns, check it (the first bad row is named), import it
as a seed set for a task; the vault's seed sets below."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from appliance.service import seeds as seed_service
from appliance.service import tasks as task_service
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen


class SeedsScreen(AppScreen):
    NAME = "seeds"
    TITLE = "Seeds"
    BINDINGS = [
        Binding("ctrl+o", "preview", "Preview"),
        Binding("ctrl+k", "check", "Check"),
        Binding("ctrl+s", "import_file", "Import"),
    ]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="seeds"):
            with Horizontal(classes="row"):
                yield Input(placeholder="seed file: .csv .tsv .jsonl .json .parquet", id="seed-path")
                yield Button("Preview", id="preview")
            yield PlainTable(id="seed-preview")
            with Horizontal(classes="row"):
                yield Label("text column", classes="field")
                yield Select([], id="text-col", prompt="text column")
                yield Label("label column", classes="field")
                yield Select([], id="label-col", prompt="(no labels)")
            with Horizontal(classes="row"):
                yield Label("task", classes="field")
                yield Select([], id="seed-task", prompt="task (its labels are allowed)")
                yield Label("seed set", classes="field")
                yield Input(placeholder="seed set name", id="seed-set")
            with Horizontal(classes="row"):
                yield Button("Check", id="check")
                yield Button("Import", id="import", variant="primary")
            yield Static("", id="seed-errors", markup=False)  # names columns and files: plain text
            yield Static("Seed sets in the vault", classes="section")
            yield PlainTable(id="seed-sets", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#seed-sets", DataTable).add_columns("id", "name", "task", "records", "source", "added")

    def on_screen_resume(self) -> None:
        choices = self.guard(task_service.task_choices, self.session) or []
        self.query_one("#seed-task", Select).set_options(choices)
        table = self.query_one("#seed-sets", DataTable)
        table.clear()
        for s in self.guard(seed_service.list_seed_sets, self.session) or []:
            table.add_row(str(s["id"]), s["name"], s["task_name"] or "–", str(s["n_seeds"]), s["source_name"] or "–",
                          s["created_at"][:16])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"preview": self.action_preview, "check": self.action_check, "import": self.action_import_file}
        if event.button.id in action:
            action[event.button.id]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "seed-path":
            self.action_preview()

    def _path(self) -> str:
        return self.query_one("#seed-path", Input).value.strip()

    def action_preview(self) -> None:
        if not self._path():
            self.notify("type the path of a seed file first", severity="warning")
            return
        self.background(seed_service.preview_seed_file, self.session, self._path(), done=self._show_preview)

    def _show_preview(self, pv: seed_service.SeedPreview) -> None:
        table = self.query_one("#seed-preview", DataTable)
        table.clear(columns=True)
        table.add_column("row")
        for c in pv.columns:
            table.add_column(c)
        for i, r in enumerate(pv.rows, 1):
            table.add_row(str(i), *[(v or "")[:60] for v in r])
        options = [(c, c) for c in pv.columns]
        text_col = self.query_one("#text-col", Select)
        label_col = self.query_one("#label-col", Select)
        text_col.set_options(options)
        label_col.set_options(options)
        guess = {c.lower(): c for c in pv.columns}
        for want in ("text", "note", "sentence", "question"):
            if want in guess:
                text_col.value = guess[want]
                break
        if "label" in guess:
            label_col.value = guess["label"]
        seed_set = self.query_one("#seed-set", Input)
        if not seed_set.value:
            seed_set.value = pv.path.stem
        self.query_one("#seed-errors", Static).update(f"{pv.path.name}: {pv.format}, columns {', '.join(pv.columns)}")

    def _mapping(self) -> tuple[str, str | None, str | None] | None:
        text_col = self.query_one("#text-col", Select).value
        label_col = self.query_one("#label-col", Select).value
        task_ref = self.query_one("#seed-task", Select).value
        if text_col is Select.NULL:
            self.notify("choose the text column (Preview first)", severity="warning")
            return None
        return (str(text_col), None if label_col is Select.NULL else str(label_col),
                None if task_ref is Select.NULL else str(task_ref))

    def action_check(self) -> None:
        m = self._mapping()
        if m is None:
            return
        text_col, label_col, task_ref = m
        session, path = self.session, self._path()

        def check() -> int:
            labels = task_service.resolve_task(session, task_ref).label_ids if task_ref and label_col else None
            return seed_service.check_seed_file(session, path, text_col, label_col, labels)

        self.background(check, done=lambda n: self._said(f"{Path(path).name}: all {n} rows are valid"),
                        failed=self._invalid)

    def action_import_file(self) -> None:
        m = self._mapping()
        if m is None:
            return
        text_col, label_col, task_ref = m
        if task_ref is None:
            self.notify("choose the task these seeds are for", severity="warning")
            return
        session, path = self.session, self._path()
        seed_set = self.query_one("#seed-set", Input).value.strip() or None

        def do_import():
            spec = task_service.resolve_task(session, task_ref)
            return session.import_seed_file(path, text_column=text_col, label_column=label_col,
                                            allowed_labels=spec.label_ids if label_col else None, seed_set=seed_set,
                                            task_name=spec.name, task_toml=spec.source_text)

        def imported(result) -> None:
            self._said(f"imported {result.rows} seed records into seed set {result.seed_set!r}")
            self.notify(f"seed set {result.seed_set!r}: {result.rows} records imported", markup=False)
            self.on_screen_resume()

        self.background(do_import, done=imported, failed=self._invalid)

    def _said(self, text: str) -> None:
        errors = self.query_one("#seed-errors", Static)
        errors.remove_class("error")
        errors.update(text)

    def _invalid(self, e: BaseException) -> None:
        errors = self.query_one("#seed-errors", Static)
        errors.add_class("error")
        errors.update(f"✗ {e}")
        self.notify(str(e), title="File not imported", severity="error", timeout=8)
