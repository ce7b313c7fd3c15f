"""Tasks (authors): a form for a task spec (labels, verbalizers, prompts, attributes and a label's own attribute
values, word limits, stop rules, decoding) checked as you type by the same parser that reads task files; load a
shipped example to start from; save it into the vault."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Select, Static, TextArea

from appliance.errors import UserError
from appliance.service import tasks as task_service
from appliance.spec import TaskSpec
from appliance.spec.leak import prompt_warnings
from appliance.tui.components.plain_table import PlainTable
from appliance.tui.screens.base import AppScreen

FIELDS = (("name", "task name, e.g. discharge_notes"), ("domain", "domain, e.g. clinical"),
          ("description", "what the records are"), ("context-prompt", "context prompt (stage 1)"))
# Generation settings, one short field each, in two rows: (id, placeholder).
SETTINGS = ((("min-words", "min words"), ("max-words", "max words"), ("context-max-words", "context max words")),
            (("max-new-tokens", "max new tokens"), ("temperature", "temperature (1.0)"), ("top-p", "top p (0.9)")))


class TasksScreen(AppScreen):
    NAME = "tasks"
    TITLE = "Tasks"
    BINDINGS = [Binding("ctrl+s", "save", "Save task"), Binding("ctrl+e", "load_example", "Load example")]

    def __init__(self) -> None:
        super().__init__()
        self.form = task_service.TaskForm()
        self.spec: TaskSpec | None = None

    def body(self) -> ComposeResult:
        with VerticalScroll(id="tasks"):
            with Horizontal(classes="row"):
                yield Select([(s, s) for s in task_service.shipped_tasks()], id="example", prompt="shipped example")
                yield Button("Load", id="load")
                yield Button("Save", id="save", variant="primary")
            for fid, placeholder in FIELDS:
                yield Input(placeholder=placeholder, id=fid, classes="task-field")
            yield Label("Context examples (one per line)")
            yield TextArea(id="examples", classes="task-text")
            yield Label("Labels: id | description | verbalizers, comma-separated | prompt with {context}")
            yield TextArea(id="labels", classes="task-text")
            yield Label("Attributes: name: value, value — and a label's own values: name[label]: value, value", markup=False)
            yield TextArea(id="attributes", classes="task-text")
            yield Label("Word limits, stop rules and decoding")
            for row in SETTINGS:
                with Horizontal(classes="row"):
                    for fid, placeholder in row:
                        yield self._titled(Input(placeholder=placeholder, id=fid, classes="task-field"), placeholder)
            yield self._titled(Input(placeholder='stop strings, a JSON list: ["\\n"]', id="stop-strings", classes="task-field"),
                               "stop strings (JSON list)")
            yield Static("", id="task-status", markup=False)  # names the spec's own names: plain text
            yield Static("Tasks in the vault", classes="section")
            yield PlainTable(id="task-list", cursor_type="row")

    @staticmethod
    def _titled(field: Input, title: str) -> Input:
        """The field's name on its border, so it stays visible once the field holds a value."""
        field.border_title = title
        return field

    def on_mount(self) -> None:
        self.query_one("#task-list", DataTable).add_columns("id", "name", "sha256", "by", "added")
        self.validate()

    def on_screen_resume(self) -> None:
        table = self.query_one("#task-list", DataTable)
        table.clear()
        for t in self.guard(task_service.list_tasks, self.session) or []:
            table.add_row(str(t["id"]), t["name"], t["sha256"][:12], t["created_by"], t["created_at"][:16])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load":
            self.action_load_example()
        elif event.button.id == "save":
            self.action_save()

    def action_load_example(self) -> None:
        name = self.query_one("#example", Select).value
        if name is Select.NULL:
            self.notify("choose a shipped example first", severity="warning")
            return
        spec = self.guard(task_service.load_example, str(name))
        if spec is not None:
            self.fill(task_service.form_from_spec(spec))

    def fill(self, form: task_service.TaskForm) -> None:
        """Show a form's values in the widgets (their change events then re-validate)."""
        self.form = form
        values = {"name": form.name, "domain": form.domain, "description": form.description,
                  "context-prompt": form.context_prompt}
        for fid, value in values.items():
            self.query_one(f"#{fid}", Input).value = value
        self.query_one("#examples", TextArea).text = "\n".join(form.context_examples)
        self.query_one("#labels", TextArea).text = task_service.labels_to_lines(form.labels)
        self.query_one("#attributes", TextArea).text = task_service.attributes_to_lines(form.attributes, form.attributes_per_label)
        settings = {"min-words": form.min_words, "max-words": form.max_words, "context-max-words": form.context_max_words,
                    "max-new-tokens": form.max_new_tokens, "temperature": form.temperature, "top-p": form.top_p}
        for fid, value in settings.items():
            self.query_one(f"#{fid}", Input).value = "" if value is None else str(value)
        self.query_one("#stop-strings", Input).value = task_service.stop_strings_to_text(form.stop_strings)
        self.validate()

    def on_input_changed(self, event: Input.Changed) -> None:
        if "task-field" in event.input.classes:
            self.validate()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.validate()

    def validate(self) -> None:
        """Read the widgets into the form and check it; the status line names the first problem."""
        status = self.query_one("#task-status", Static)
        f = self.form
        f.name = self.query_one("#name", Input).value
        f.domain = self.query_one("#domain", Input).value
        f.description = self.query_one("#description", Input).value
        f.context_prompt = self.query_one("#context-prompt", Input).value
        f.context_examples = self.query_one("#examples", TextArea).text.splitlines()
        try:
            f.labels = task_service.labels_from_lines(self.query_one("#labels", TextArea).text)
            f.attributes, f.attributes_per_label = task_service.attributes_from_lines(self.query_one("#attributes", TextArea).text)
            self.read_settings(f)
            self.spec = task_service.validate_form(f)
        except UserError as e:
            self.spec = None
            status.set_class(True, "error")
            status.update(f"✗ {e}")
            return
        status.set_class(False, "error")
        warnings = prompt_warnings(self.spec)  # valid, but a prompt the model will copy its label from
        status.update(f"✓ valid: {self.spec.name}, {len(self.spec.labels)} labels "
                      f"({', '.join(self.spec.label_ids)})" + "".join(f"\n⚠ {w}" for w in warnings))

    def read_settings(self, f: task_service.TaskForm) -> None:
        """Word limits, stop rules and decoding from their fields; an empty field keeps the default."""
        def number(fid: str, what: str, kind: type = int):  # noqa: ANN202
            return task_service.number_from_field(self.query_one(f"#{fid}", Input).value, what, kind)

        defaults = task_service.TaskForm()
        for fid, what, attr in (("min-words", "min words", "min_words"), ("max-words", "max words", "max_words"),
                                ("context-max-words", "context max words", "context_max_words"),
                                ("max-new-tokens", "max new tokens", "max_new_tokens")):
            value = number(fid, what)
            setattr(f, attr, getattr(defaults, attr) if value is None else value)
        f.temperature = number("temperature", "temperature", float)
        f.top_p = number("top-p", "top p", float)
        f.stop_strings = task_service.stop_strings_from_text(self.query_one("#stop-strings", Input).value)

    def action_save(self) -> None:
        self.validate()
        if self.spec is None:
            self.notify("the task has a problem (see the line under the form)", severity="error")
            return
        task_id = self.guard(task_service.save_task, self.session, self.spec)
        if task_id is not None:
            self.notify(f"task {self.spec.name} saved as vault task {task_id}", markup=False)
            self.on_screen_resume()
