"""Attacks on task specs: braces in prompts, absurd numbers, control characters in names.

A brace in a label prompt (a JSON example, ``{0}``) used to raise KeyError/IndexError after the model had loaded and
leave a failed job; ``max_new_tokens = 10**9`` passed; NUL and terminal escapes passed in labels and names. Prompts
are built here without the model: the functions every method calls are the ones tested.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from appliance.errors import UserError
from appliance.generate.attrprompt import attr_instruction
from appliance.generate.dino import Dino
from appliance.generate.progen import demo_instruction
from appliance.generate.zerogen import build_prompt
from appliance.service.methods import build_method
from appliance.spec import load_task, parse_task
from tests.security.inputs_helpers import MEDICAL_TASK, REPO, Cli, assert_refused, make_cli

BASE = MEDICAL_TASK.read_text()
JSON_PROMPT = 'Reply as JSON like {"note": "...", "specialty": 0} or {0} about {context}; keep {{braces}} and {unknown}.'


def _with_first_prompt(prompt: str, spec: str = BASE) -> str:
    first = re.search(r'^prompt = "Write a short clinical note by a cardiologist.*$', spec, re.M).group(0)
    return spec.replace(first, "prompt = " + _toml_string(prompt))


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_braces_in_a_label_prompt_are_literal_text() -> None:
    spec = parse_task(_with_first_prompt(JSON_PROMPT))
    lab = spec.labels[0]
    context = "a man with {weird} braces of his own {context}"
    expected = JSON_PROMPT.replace("{context}", context)  # every other brace exactly as written
    assert lab.instruction(context) == expected
    raw = SimpleNamespace(instruct=False)  # a base model: the prompt is the instruction and an opening quote
    assert build_prompt(raw, lab.instruction(context)) == expected + '\n"'
    assert demo_instruction(spec, lab.id, context, ["an earlier note"]).endswith(expected)
    assert attr_instruction(spec, lab.id, context, {"note_type": "follow-up visit"}).startswith(expected)
    group = Dino().group(raw, spec, lab.id, context)
    assert group[0] == expected + '\n"' and len(group) == len(spec.labels)


def test_declared_attributes_are_placeholders_and_only_attrprompt_fills_them() -> None:
    spec = parse_task(_with_first_prompt("Write a {note_type} note about {context} for {age_band} ({nope})."))
    lab = spec.labels[0]
    drawn = {"note_type": "follow-up visit", "age_band": "older adult"}
    text = attr_instruction(spec, lab.id, "a woman", drawn)
    assert text == "Write a follow-up visit note about a woman for older adult ({nope})."  # nothing repeated after it
    assert spec.attribute_placeholders == {"note_type", "age_band"}
    with pytest.raises(UserError, match=r"only attrprompt fills them, not zerogen"):
        build_method(None, "zerogen", spec)
    build_method(None, "attrprompt", spec)


def test_shipped_tasks_build_exactly_the_prompts_they_built_before() -> None:
    """Deterministic generation output must not change: no shipped prompt has a stray brace."""
    for path in sorted((REPO / "tasks").glob("*.toml")):
        spec = load_task(path)
        for lab in spec.labels:
            assert lab.instruction("CTX {x}") == lab.prompt.format(context="CTX {x}"), (path.name, lab.id)
        rng = random.Random(0)
        for lab in spec.labels:  # attrprompt: the prompt, then every drawn attribute stated after it, as before
            drawn = {a.name: rng.choice(a.values_for(lab.id)) for a in spec.attributes}
            old = lab.prompt.format(context="c")
            if drawn:
                old += " Attributes of the text: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in drawn.items()) + "."
            assert attr_instruction(spec, lab.id, "c", drawn) == old


@pytest.mark.parametrize(
    "old, new, field, bounds",
    [
        ("max_new_tokens = 96", "max_new_tokens = 1000000000", "stop.max_new_tokens", "between 1 and 384"),
        ("max_new_tokens = 96", "max_new_tokens = 0", "stop.max_new_tokens", "between 1 and 384"),
        ("max_words = 90", "max_words = 99999999", "task.max_words", "between 1 and 250"),
        ("min_words = 8", "min_words = -3", "task.min_words", "between 1 and 250"),
        ("max_words = 20", "max_words = 5000", "context.max_words", "between 1 and 100"),
        ("temperature = 0.7", "temperature = 1e308", "decoding.temperature", "between 0.0 and 5.0"),
        ("temperature = 0.7", "temperature = nan", "decoding.temperature", "between 0.0 and 5.0"),
        ("top_p = 0.9", "top_p = inf", "decoding.top_p", "(0, 1]"),
    ],
)
def test_every_number_is_bounded_with_the_range_in_the_message(old: str, new: str, field: str, bounds: str) -> None:
    assert old in BASE
    with pytest.raises(UserError) as e:
        parse_task(BASE.replace(old, new, 1))
    msg = str(e.value)
    assert field in msg and bounds in msg and "\n" not in msg, msg


@pytest.mark.parametrize(
    "old, new, field",
    [
        ('name = "medical_specialty"', 'name = "medical\\u0000specialty"', "task.name"),
        ('name = "medical_specialty"', 'name = "med\\u001b[2J\\u001b]0;owned\\u0007"', "task.name"),
        ('domain = "medical"', 'domain = "medical\\u009b31m"', "task.domain"),
        ('id = "orthopedic"', 'id = "ortho\\u001b[31mpedic"', "labels[1].id"),
        ('verbalizers = ["bone", "joint", "fracture"]', 'verbalizers = ["bone\\u0000", "joint"]', "labels[1].verbalizers[0]"),
        ('values = ["child", "adult", "older adult"]', 'values = ["child\\nadult"]', "attributes.age_band.values[0]"),
        ("[attributes.age_band]", '[attributes."age\\u001bband"]', "attributes"),
        ("Do not use names.", "Do not use names.\\u001b[8m", "context.prompt"),
    ],
)
def test_control_characters_are_refused_in_names_and_labels(old: str, new: str, field: str) -> None:
    assert old in BASE
    with pytest.raises(UserError) as e:
        parse_task(BASE.replace(old, new, 1))
    msg = str(e.value)
    assert field in msg and "control character" in msg, msg
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in msg), repr(msg)


def test_free_text_keeps_its_line_breaks() -> None:
    spec = parse_task(BASE.replace("Do not use names.", "Do not use names.\\n\\tOne line only."))
    assert "\n\tOne line only." in spec.context_prompt and spec.stop_strings == ('"', "\n")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


def test_generate_refuses_a_bad_spec_before_anything_loads(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "huge.toml"
    spec.write_text(BASE.replace("max_new_tokens = 96", "max_new_tokens = 1000000000"))
    assert_refused(*cli.run("generate", "--task", str(spec), "--n", "2"), "stop.max_new_tokens", "between 1 and 384")
    folder = tmp_path / "specs.toml"
    folder.mkdir()
    assert_refused(*cli.run("generate", "--task", str(folder)), "is a directory")
    link = tmp_path / "link.toml"
    link.symlink_to(MEDICAL_TASK)
    assert_refused(*cli.run("generate", "--task", str(link)), "symbolic link")


class _EchoModel:
    """A stand-in model: a base model whose every completion is a distinct, well-formed text, and which keeps the
    prompts it was given."""

    instruct = False
    max_parallel = 4

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompts, params, on_token=None):  # noqa: ANN001 (the TextModel protocol's signature)
        from appliance.engine.interface import Completion

        self.prompts.extend(prompts)
        start = len(self.prompts) - len(prompts)
        return [Completion(self._text(p, start + i), 12, "stop", -1.0, '"') for i, p in enumerate(prompts)]

    @staticmethod
    def _text(prompt: str, i: int) -> str:
        if prompt.rstrip().endswith('. "'):  # the context stage's numbered list
            return f"a man of {20 + i} years"
        return f"Note {i}: new rash on both arms since Monday, treated with a cream and reviewed in two weeks."


@pytest.mark.parametrize("method", ["zerogen", "attrprompt"])
def test_a_job_with_braces_in_its_prompts_runs_and_keeps_them(method: str) -> None:
    """What used to raise KeyError/IndexError after the model had loaded: the whole method, braces kept."""
    spec = parse_task(_with_first_prompt(JSON_PROMPT))
    model = _EchoModel()
    built, _ = build_method(None, method, spec)
    records = [r for batch in built.run(model, spec, 6, seed=1) for r in batch]
    assert len(records) == 6
    literal = JSON_PROMPT.split("{context}")[0]
    assert any(p.startswith(literal) for p in model.prompts), model.prompts[:3]
