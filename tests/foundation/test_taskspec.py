"""Task specs: the shipped ones load; each kind of mistake gets one line naming the field."""

from __future__ import annotations

import pytest

from appliance.errors import UserError
from appliance.spec import load_task, parse_task
from tests.conftest import TASKS

GOOD = """
[task]
name = "t"
domain = "d"
[context]
prompt = "Name a thing."
[[labels]]
id = "a"
verbalizers = ["yes"]
prompt = "About {context}: a"
[[labels]]
id = "b"
verbalizers = ["no"]
prompt = "About {context}: b"
"""


@pytest.mark.parametrize("name", ["medical_specialty", "math_subject", "sst2_sentiment"])
def test_shipped_tasks_load(name: str) -> None:
    t = load_task(TASKS / f"{name}.toml")
    assert t.name == name and len(t.labels) >= 2 and t.context_examples


def test_good_spec_parses() -> None:
    t = parse_task(GOOD)
    assert t.label_ids == ["a", "b"] and t.top_p == 0.9 and t.temperature == 1.0


@pytest.mark.parametrize(
    "text, field",
    [
        (GOOD.replace('domain = "d"\n', ""), "task.domain: missing field"),
        (GOOD.replace('id = "b"', 'id = "a"'), "labels.a: duplicate label id"),
        (GOOD.replace('domain = "d"', 'domain = "d"\ncolour = "red"'), "task.colour: unknown key"),
        (GOOD.replace('verbalizers = ["no"]', "verbalizers = []"), "labels.b.verbalizers: empty verbalizer"),
        (GOOD.replace('verbalizers = ["no"]', 'verbalizers = [" "]'), "labels.b.verbalizers: empty verbalizer"),
        (GOOD.replace("About {context}: b", "no placeholder"), "labels.b.prompt: must contain {context}"),
        (GOOD + "\n[decoding]\ntop_p = 1.5\n", "decoding.top_p"),
        ("[task\n", "not valid TOML"),
    ],
)
def test_spec_errors_name_the_field(text: str, field: str) -> None:
    with pytest.raises(UserError) as e:
        parse_task(text)
    msg = str(e.value)
    assert field in msg and "\n" not in msg


def test_missing_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="task spec not found"):
        load_task(tmp_path / "nope.toml")
