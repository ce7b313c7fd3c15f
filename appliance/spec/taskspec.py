"""Task specs: the TOML file that says what data to generate.

A spec names the task and its domain, lists the labels (each with a description, verbalizer words and a
label-conditioned text prompt), the context-stage prompt (ZeroGen's first stage), optional attributes for
attribute-controlled prompting, word limits and stop rules. Every problem is reported as one line naming the
field, so a user can fix the file without reading a traceback.

Label prompts are templates in which only ``{context}`` and ``{NAME}`` of a declared attribute are replaced
(``fill_prompt``); every other brace is literal text, so a JSON example or ``{0}`` in a prompt reaches the model as
written instead of failing after the model has loaded. Every number is bounded here, with the range in the message.
Names (task, domain, label ids, verbalizers, attribute names and values) may hold no control character (NUL,
ESC and terminal escape sequences, line breaks); free text (descriptions, prompts, examples, stop strings) may hold
tabs and line breaks only.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from appliance.errors import BadInput
from appliance.inputfile import check_input_file, has_control_chars
from appliance.tomlfields import Fields

_TOP_KEYS = {"task", "context", "labels", "attributes", "stop", "decoding"}
_DECODING_KEYS = {"temperature", "top_p"}
_TASK_KEYS = {"name", "domain", "description", "min_words", "max_words"}
_CONTEXT_KEYS = {"prompt", "max_words", "examples"}
_LABEL_KEYS = {"id", "description", "verbalizers", "prompt"}
_STOP_KEYS = {"strings", "max_new_tokens"}
_ATTR_KEYS = {"values", "per_label"}
# Fields of free text, where tabs and line breaks are allowed; every other string is a name.
_FREE_TEXT_KEYS = {"description", "prompt", "examples", "strings"}
_LINE_BREAKS = "\t\n\r"

# Bounds of the numbers. A generation slot holds 512 tokens, prompt included (engine.loader), so a text longer than
# about 250 words or 384 new tokens could never be produced; a larger number is a typo, refused before any work.
MAX_TEXT_WORDS = 250
MAX_CONTEXT_WORDS = 100
MAX_NEW_TOKENS = 384

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_prompt(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{NAME}`` whose NAME is in ``values`` replaced, in one pass (a value's own braces
    are never read as placeholders); every other brace stays as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def placeholders(template: str) -> set[str]:
    """The ``{NAME}`` placeholders written in ``template`` (whether or not anything fills them)."""
    return set(_PLACEHOLDER.findall(template))


@dataclass(frozen=True)
class Label:
    id: str
    description: str
    verbalizers: tuple[str, ...]
    prompt: str

    def instruction(self, context: str, attributes: Mapping[str, str] | None = None) -> str:
        """The label's prompt for one context (and, for attribute-controlled prompting, the drawn attributes)."""
        return fill_prompt(self.prompt, {**(attributes or {}), "context": context})


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...]
    per_label: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def values_for(self, label_id: str) -> tuple[str, ...]:
        return self.per_label.get(label_id, self.values)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    domain: str
    description: str
    labels: tuple[Label, ...]
    context_prompt: str
    context_max_words: int
    context_examples: tuple[str, ...]
    attributes: tuple[Attribute, ...]
    min_words: int
    max_words: int
    stop_strings: tuple[str, ...]
    max_new_tokens: int
    temperature: float
    top_p: float
    source_text: str
    sha256: str

    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def attribute_placeholders(self) -> set[str]:
        """Declared attributes that some label prompt names as ``{NAME}``: only a method that draws attribute
        values (attrprompt) can fill them."""
        names = {a.name for a in self.attributes}
        return {n for lab in self.labels for n in placeholders(lab.prompt) if n in names}

    def label(self, label_id: str) -> Label:
        for lab in self.labels:
            if lab.id == label_id:
                return lab
        raise KeyError(label_id)


_F = Fields("task spec", nonempty_strings=True)
_fail = _F.fail


def _strings(value: Any, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "must be a list of strings")
    if not allow_empty and (not value or not all(v.strip() for v in value)):
        raise _fail(where, "must not be empty")
    return tuple(value)


def _no_control_chars(value: Any, where: str, free_text: bool = False) -> None:
    """Refuse control characters anywhere in the document: in keys (attribute and label names) and strings."""
    if isinstance(value, str):
        if has_control_chars(value, allow=_LINE_BREAKS if free_text else ""):
            what = "tabs and line breaks are the only control characters allowed" if free_text else "a name"
            raise _fail(where or "task spec", f"contains a control character ({what})")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_control_chars(item, f"{where}[{i}]", free_text)
    elif isinstance(value, dict):
        for key, item in value.items():
            if has_control_chars(key):
                raise _fail(where or "task spec", "a key contains a control character")
            _no_control_chars(item, f"{where}.{key}" if where else key, key in _FREE_TEXT_KEYS)


def parse_task(text: str, origin: str = "<string>") -> TaskSpec:
    """Parse and validate a task spec from TOML text; raises UserError naming the bad field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"invalid task spec {origin}: not valid TOML: {e}") from None
    _no_control_chars(doc, "")
    _F.no_unknown(doc, _TOP_KEYS, "")

    task = _F.get(doc, "task", "", dict)
    _F.no_unknown(task, _TASK_KEYS, "task")
    name = _F.get(task, "name", "task", str)
    domain = _F.get(task, "domain", "task", str)
    description = _F.get(task, "description", "task", str, "")
    min_words = _F.bounded(task, "min_words", "task", int, 1, MAX_TEXT_WORDS, 5)
    max_words = _F.bounded(task, "max_words", "task", int, 1, MAX_TEXT_WORDS, 120)
    if max_words < min_words:
        raise _fail("task.max_words", "must be ≥ task.min_words ≥ 1")

    ctx = _F.get(doc, "context", "", dict)
    _F.no_unknown(ctx, _CONTEXT_KEYS, "context")
    context_prompt = _F.get(ctx, "prompt", "context", str)
    context_max_words = _F.bounded(ctx, "max_words", "context", int, 1, MAX_CONTEXT_WORDS, 16)
    context_examples = _strings(ctx.get("examples", []), "context.examples", allow_empty=True)

    raw_labels = _F.get(doc, "labels", "", list)
    if len(raw_labels) < 2:
        raise _fail("labels", "need at least two labels")
    labels: list[Label] = []
    seen: set[str] = set()
    for i, lab in enumerate(raw_labels):
        where = f"labels[{i}]"
        if not isinstance(lab, dict):
            raise _fail(where, "must be a table")
        _F.no_unknown(lab, _LABEL_KEYS, where)
        lid = _F.get(lab, "id", where, str)
        where = f"labels.{lid}"
        if lid in seen:
            raise _fail(where, "duplicate label id")
        seen.add(lid)
        verbal = _F.get(lab, "verbalizers", where, list)
        if not verbal or not all(isinstance(v, str) and v.strip() for v in verbal):
            raise _fail(f"{where}.verbalizers", "empty verbalizer")
        prompt = _F.get(lab, "prompt", where, str)
        if "{context}" not in prompt:
            raise _fail(f"{where}.prompt", "must contain {context}")
        labels.append(
            Label(id=lid, description=_F.get(lab, "description", where, str, lid), verbalizers=tuple(verbal), prompt=prompt)
        )

    attributes: list[Attribute] = []
    for aname, attr in (doc.get("attributes") or {}).items():
        where = f"attributes.{aname}"
        if not isinstance(attr, dict):
            raise _fail(where, "must be a table with 'values'")
        _F.no_unknown(attr, _ATTR_KEYS, where)
        values = _strings(_F.get(attr, "values", where, list), f"{where}.values")
        per_label: dict[str, tuple[str, ...]] = {}
        for lid, vals in (attr.get("per_label") or {}).items():
            if lid not in seen:
                raise _fail(f"{where}.per_label.{lid}", "unknown label")
            per_label[lid] = _strings(vals, f"{where}.per_label.{lid}")
        attributes.append(Attribute(name=aname, values=values, per_label=per_label))

    stop = doc.get("stop", {})
    if not isinstance(stop, dict):
        raise _fail("stop", "must be a table")
    _F.no_unknown(stop, _STOP_KEYS, "stop")
    stop_strings = _strings(stop.get("strings", []), "stop.strings", allow_empty=True)
    max_new_tokens = _F.bounded(stop, "max_new_tokens", "stop", int, 1, MAX_NEW_TOKENS, 96)

    dec = doc.get("decoding", {})
    if not isinstance(dec, dict):
        raise _fail("decoding", "must be a table")
    _F.no_unknown(dec, _DECODING_KEYS, "decoding")
    temperature = float(_F.bounded(dec, "temperature", "decoding", float, 0.0, 5.0, 1.0))
    top_p = float(_F.get(dec, "top_p", "decoding", float, 0.9))
    if not 0.0 < top_p <= 1.0:
        raise _fail("decoding.top_p", f"must be in (0, 1], not {top_p}")

    return TaskSpec(
        name=name,
        domain=domain,
        description=description,
        labels=tuple(labels),
        context_prompt=context_prompt,
        context_max_words=context_max_words,
        context_examples=context_examples,
        attributes=tuple(attributes),
        min_words=min_words,
        max_words=max_words,
        stop_strings=stop_strings,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        source_text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_task(path: str | Path) -> TaskSpec:
    """Load a task spec file; a missing or unreadable file is a UserError too."""
    p = check_input_file(path, "task spec")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"task spec not found: {p}") from None
    except UnicodeDecodeError:
        raise BadInput(f"invalid task spec {p}: not UTF-8 text") from None
    except OSError as e:
        raise BadInput(f"cannot read task spec {p}: {e.strerror}") from None
    return parse_task(text, origin=str(p))
