"""Task specs: the TOML file that says what data to generate.

A spec names the task and its domain, lists the labels (each with a description, verbalizer words and a
label-conditioned text prompt), the context-stage prompt (ZeroGen's first stage), optional attributes for
attribute-controlled prompting, word limits and stop rules. Every problem is reported as one line naming the
field, so a user can fix the file without reading a traceback.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import UserError
from appliance.tomlfields import Fields

_TOP_KEYS = {"task", "context", "labels", "attributes", "stop", "decoding"}
_DECODING_KEYS = {"temperature", "top_p"}
_TASK_KEYS = {"name", "domain", "description", "min_words", "max_words"}
_CONTEXT_KEYS = {"prompt", "max_words", "examples"}
_LABEL_KEYS = {"id", "description", "verbalizers", "prompt"}
_STOP_KEYS = {"strings", "max_new_tokens"}
_ATTR_KEYS = {"values", "per_label"}


@dataclass(frozen=True)
class Label:
    id: str
    description: str
    verbalizers: tuple[str, ...]
    prompt: str


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


def parse_task(text: str, origin: str = "<string>") -> TaskSpec:
    """Parse and validate a task spec from TOML text; raises UserError naming the bad field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"invalid task spec {origin}: not valid TOML: {e}") from None
    _F.no_unknown(doc, _TOP_KEYS, "")

    task = _F.get(doc, "task", "", dict)
    _F.no_unknown(task, _TASK_KEYS, "task")
    name = _F.get(task, "name", "task", str)
    domain = _F.get(task, "domain", "task", str)
    description = _F.get(task, "description", "task", str, "")
    min_words = _F.get(task, "min_words", "task", int, 5)
    max_words = _F.get(task, "max_words", "task", int, 120)
    if min_words < 1 or max_words < min_words:
        raise _fail("task.max_words", "must be ≥ task.min_words ≥ 1")

    ctx = _F.get(doc, "context", "", dict)
    _F.no_unknown(ctx, _CONTEXT_KEYS, "context")
    context_prompt = _F.get(ctx, "prompt", "context", str)
    context_max_words = _F.get(ctx, "max_words", "context", int, 16)
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
    max_new_tokens = _F.get(stop, "max_new_tokens", "stop", int, 96)
    if max_new_tokens < 1:
        raise _fail("stop.max_new_tokens", "must be ≥ 1")

    dec = doc.get("decoding", {})
    if not isinstance(dec, dict):
        raise _fail("decoding", "must be a table")
    _F.no_unknown(dec, _DECODING_KEYS, "decoding")
    temperature = float(_F.get(dec, "temperature", "decoding", float, 1.0))
    top_p = float(_F.get(dec, "top_p", "decoding", float, 0.9))
    if not 0.0 <= temperature <= 5.0:
        raise _fail("decoding.temperature", "must be between 0 and 5")
    if not 0.0 < top_p <= 1.0:
        raise _fail("decoding.top_p", "must be in (0, 1]")

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
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"task spec not found: {p}") from None
    except UnicodeDecodeError:
        raise UserError(f"invalid task spec {p}: not UTF-8 text") from None
    except OSError as e:
        raise UserError(f"cannot read task spec {p}: {e.strerror}") from None
    return parse_task(text, origin=str(p))
