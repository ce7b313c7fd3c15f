"""The task form (service layer under the TUI's Tasks screen) holds every setting of a task spec: each shipped task,
taken apart into the form's text fields and read back, is the same task (labels, attributes with a label's own
values, word limits, stop rules, decoding)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from appliance.errors import UserError
from appliance.service import tasks as task_service


@pytest.mark.parametrize("name", sorted(task_service.shipped_tasks()))
def test_shipped_task_survives_the_form(name: str) -> None:
    spec = task_service.load_example(name)
    form = task_service.form_from_spec(spec)
    # Through the text fields the screen shows, as a user would see and leave them.
    form.labels = task_service.labels_from_lines(task_service.labels_to_lines(form.labels))
    form.attributes, form.attributes_per_label = task_service.attributes_from_lines(
        task_service.attributes_to_lines(form.attributes, form.attributes_per_label))
    form.stop_strings = task_service.stop_strings_from_text(task_service.stop_strings_to_text(form.stop_strings))
    again = task_service.validate_form(form)
    ignore = {"source_text", "sha256"}
    assert {k: v for k, v in asdict(again).items() if k not in ignore} == {k: v for k, v in asdict(spec).items() if k not in ignore}


def test_per_label_values_and_their_errors() -> None:
    attrs, per_label = task_service.attributes_from_lines("level: school, college\nlevel[calculus]: first-year college")
    assert attrs == {"level": ["school", "college"]} and per_label == {"level": {"calculus": ["first-year college"]}}
    with pytest.raises(UserError, match=r"level\[…\] gives one label's values; add a line level: value"):
        task_service.attributes_from_lines("level[calculus]: college")
    with pytest.raises(UserError, match="attributes line 2: write name: value"):
        task_service.attributes_from_lines("a: b\n[x]: y")
    with pytest.raises(UserError, match="stop strings: write a JSON list of strings"):
        task_service.stop_strings_from_text('["\\n", 3]')
    with pytest.raises(UserError, match="max words: write a whole number"):
        task_service.number_from_field("many", "max words")
    form = task_service.form_from_spec(task_service.load_example("math_subject"))
    form.attributes_per_label = {next(iter(form.attributes)): {"astrology": ["x"]}}
    with pytest.raises(UserError, match="unknown label"):
        task_service.validate_form(form)
