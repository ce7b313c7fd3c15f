"""Task specs from a form: the fields a user fills in (name, labels with verbalizers and prompts, attributes) turned
into the same TOML a file would hold, so one parser (``appliance.spec``) validates both; the shipped examples as a
starting point; saving a spec into the vault."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from appliance.errors import BadInput
from appliance.service.session import Session
from appliance.shipped import shipped_path
from appliance.spec import TaskSpec, load_task, parse_task

TASK_DIR = shipped_path("tasks")
_ATTRIBUTE_KEY = re.compile(r"(?P<name>[^\[\]]+?)\s*(?:\[\s*(?P<label>[^\[\]]+?)\s*\])?")


@dataclass
class LabelForm:
    id: str
    description: str = ""
    verbalizers: list[str] = field(default_factory=list)
    prompt: str = ""


@dataclass
class TaskForm:
    """What the task form edits: every setting of a task spec, so a spec loaded from a file and saved from the form
    is the same task."""

    name: str = ""
    domain: str = ""
    description: str = ""
    context_prompt: str = ""
    context_examples: list[str] = field(default_factory=list)
    context_max_words: int = 16
    labels: list[LabelForm] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    attributes_per_label: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # attribute → label → values
    min_words: int = 5
    max_words: int = 120
    stop_strings: list[str] = field(default_factory=lambda: ['"', "\n"])
    max_new_tokens: int = 96
    temperature: float | None = None
    top_p: float | None = None


def shipped_tasks() -> dict[str, Path]:
    """The example task specs shipped in tasks/, by file stem."""
    return {p.stem: p for p in sorted(TASK_DIR.glob("*.toml"))}


def form_from_spec(spec: TaskSpec) -> TaskForm:
    return TaskForm(
        name=spec.name, domain=spec.domain, description=spec.description, context_prompt=spec.context_prompt,
        context_examples=list(spec.context_examples), context_max_words=spec.context_max_words,
        labels=[LabelForm(lab.id, lab.description, list(lab.verbalizers), lab.prompt) for lab in spec.labels],
        attributes={a.name: list(a.values) for a in spec.attributes},
        attributes_per_label={a.name: {k: list(v) for k, v in a.per_label.items()} for a in spec.attributes if a.per_label},
        min_words=spec.min_words, max_words=spec.max_words, stop_strings=list(spec.stop_strings),
        max_new_tokens=spec.max_new_tokens, temperature=spec.temperature, top_p=spec.top_p,
    )


def form_to_toml(form: TaskForm) -> str:
    """The TOML text of the form (empty fields are left out so the parser names them as missing)."""
    task = {k: v for k, v in (("name", form.name.strip()), ("domain", form.domain.strip()),
                              ("description", form.description.strip())) if v}
    task.update(min_words=form.min_words, max_words=form.max_words)
    doc: dict = {"task": task}
    ctx: dict = {}
    if form.context_prompt.strip():
        ctx["prompt"] = form.context_prompt.strip()
    ctx["max_words"] = form.context_max_words
    ctx["examples"] = [e.strip() for e in form.context_examples if e.strip()]
    doc["context"] = ctx
    if form.temperature is not None or form.top_p is not None:
        doc["decoding"] = {k: v for k, v in (("temperature", form.temperature), ("top_p", form.top_p)) if v is not None}
    doc["stop"] = {"strings": list(form.stop_strings), "max_new_tokens": form.max_new_tokens}
    labels = []
    for lab in form.labels:
        d = {"id": lab.id.strip()}
        if lab.description.strip():
            d["description"] = lab.description.strip()
        d["verbalizers"] = [v.strip() for v in lab.verbalizers if v.strip()]
        d["prompt"] = lab.prompt.strip()
        labels.append(d)
    doc["labels"] = labels
    if form.attributes:
        doc["attributes"] = {}
        for name, vals in form.attributes.items():
            attr: dict = {"values": [v.strip() for v in vals if v.strip()]}
            if form.attributes_per_label.get(name):
                attr["per_label"] = form.attributes_per_label[name]
            doc["attributes"][name] = attr
    return tomli_w.dumps(doc)


def validate_form(form: TaskForm) -> TaskSpec:
    """The parsed spec, or UserError naming the field (checked as the user types)."""
    return parse_task(form_to_toml(form), origin="(form)")


def load_example(name: str) -> TaskSpec:
    tasks = shipped_tasks()
    if name not in tasks:
        raise BadInput(f"no shipped task {name!r} (shipped: {', '.join(tasks)})")
    return load_task(tasks[name])


def save_task(session: Session, spec: TaskSpec) -> int:
    """Store the spec in the vault (the same name and text again returns the existing id)."""
    return session.vault.add_task(spec.name, spec.source_text)


def list_tasks(session: Session) -> list[dict]:
    """Every task spec stored in the vault (each version of a name is its own task), oldest first."""
    return session.vault.list_tasks()


def stored_task(session: Session, task_id: int) -> TaskSpec:
    row = session.vault.get_task(task_id)
    return parse_task(row["spec_toml"], origin=f"task {task_id}")


def task_choices(session: Session) -> list[tuple[str, str]]:
    """(display, reference) for every task a user may pick: the vault's stored tasks (latest version of each name)
    and the shipped examples. A reference is ``vault:ID`` or ``example:STEM``; ``resolve_task`` reads it."""
    out: list[tuple[str, str]] = []
    if session.can("task.read"):
        latest: dict[str, int] = {}
        for t in list_tasks(session):
            latest[t["name"]] = t["id"]
        out += [(f"{name} (vault task {tid})", f"vault:{tid}") for name, tid in latest.items()]
    out += [(f"{stem} (example)", f"example:{stem}") for stem in shipped_tasks()]
    return out


def resolve_task(session: Session, ref: str) -> TaskSpec:
    kind, _, key = ref.partition(":")
    if kind == "vault" and key.isdigit():
        return stored_task(session, int(key))
    if kind == "example":
        return load_example(key)
    raise BadInput(f"unknown task reference {ref!r}")


# The form's text fields: one label per line as ``id | description | verbalizer, verbalizer | prompt``; one attribute
# per line as ``name: value, value``, and a label's own values for it as ``name[label]: value, value``; stop strings
# as a JSON list (they are mostly quotes and line breaks, which JSON writes visibly: ``["\"", "\n"]``).

def labels_to_lines(labels: list[LabelForm]) -> str:
    return "\n".join(f"{lab.id} | {lab.description} | {', '.join(lab.verbalizers)} | {lab.prompt}" for lab in labels)


def labels_from_lines(text: str) -> list[LabelForm]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 3)]
        if len(parts) != 4:
            raise BadInput(f"labels line {n}: write id | description | verbalizers | prompt")
        out.append(LabelForm(parts[0], parts[1], [v.strip() for v in parts[2].split(",") if v.strip()], parts[3]))
    return out


def attributes_to_lines(attributes: dict[str, list[str]], per_label: dict[str, dict[str, list[str]]] | None = None) -> str:
    lines = []
    for name, vals in attributes.items():
        lines.append(f"{name}: {', '.join(vals)}")
        lines += [f"{name}[{label}]: {', '.join(own)}" for label, own in (per_label or {}).get(name, {}).items()]
    return "\n".join(lines)


def attributes_from_lines(text: str) -> tuple[dict[str, list[str]], dict[str, dict[str, list[str]]]]:
    """(values for every label, values of one label) by attribute; a label's line needs the attribute's own line."""
    out: dict[str, list[str]] = {}
    per_label: dict[str, dict[str, list[str]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, vals = line.partition(":")
        m = _ATTRIBUTE_KEY.fullmatch(key.strip())
        if not sep or m is None:
            raise BadInput(f"attributes line {n}: write name: value, value (or name[label]: value, value)")
        values = [v.strip() for v in vals.split(",") if v.strip()]
        if m["label"] is None:
            out[m["name"]] = values
        else:
            per_label.setdefault(m["name"], {})[m["label"]] = values
    for name in per_label:
        if name not in out:
            raise BadInput(f"attributes: {name}[…] gives one label's values; add a line {name}: value, value for the others")
    return out, per_label


def stop_strings_to_text(strings: list[str]) -> str:
    return json.dumps(list(strings), ensure_ascii=False)


def stop_strings_from_text(text: str) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput('stop strings: write a JSON list of strings, e.g. ["\\n", "\\""]')
    return value


def number_from_field(text: str, what: str, kind: type = int) -> int | float | None:
    """A number typed into the form (empty: None); UserError names the field."""
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        raise BadInput(f"{what}: write a {'whole ' if kind is int else ''}number") from None
