"""Attribute-controlled prompts (AttrPrompt: Yu et al., 2023, "Large Language Model as Attributed Training Data
Generator: A Tale of Diversity and Bias").

Instead of one class-conditional prompt, every prompt draws one value for each attribute the task spec lists
(``[attributes.NAME]``: e.g. note type, age band, aspect, grade level; values may be restricted per label) and states
them in the prompt, so the data spreads over the attribute space instead of collapsing onto the model's favourite
kind of text. Draws are uniform and independent, as in the paper's random attribute sampling. Each record keeps its
attribute values in ``GeneratedRecord.attributes`` so reports can show their distribution. A label prompt may place
a value itself with ``{NAME}``; the values it does not place are stated after the prompt. The label prompt and the
context stage are ZeroGen's; outputs go through ZeroGen's cut/drop/dedupe rules.
"""

from __future__ import annotations

import random
from typing import Iterator

from appliance.engine.interface import Completion
from appliance.errors import BadInput
from appliance.generate.base import METHODS, Run
from appliance.generate.options import Capabilities
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import Job, ZeroGen, build_prompt
from appliance.spec import TaskSpec
from appliance.spec.taskspec import placeholders


def draw_attributes(task: TaskSpec, label_id: str, rng: random.Random) -> dict[str, str]:
    """One value per attribute, from the values allowed for this label."""
    return {a.name: rng.choice(a.values_for(label_id)) for a in task.attributes}


def attr_instruction(task: TaskSpec, label_id: str, context: str, attrs: dict[str, str]) -> str:
    """The label prompt with its ``{NAME}`` attribute placeholders filled; attributes it does not name are stated
    after it."""
    text = task.label(label_id).instruction(context, attrs)
    rest = {k: v for k, v in attrs.items() if k not in placeholders(task.label(label_id).prompt)}
    if rest:
        text += " Attributes of the text: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in rest.items()) + "."
    return text


@METHODS.register
class AttrPrompt(ZeroGen):
    name = "attrprompt"
    options = ()
    capabilities = Capabilities(fills_attributes=True)  # the one method whose prompts may name attributes as {NAME}

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        if not run.task.attributes:
            raise BadInput(f"attrprompt needs [attributes] in the task spec; {run.task.name} has none")
        yield from super().records(run)

    def jobs(self, run: Run, contexts: list[str], wanted: dict[str, int]) -> list[Job]:
        task = run.task
        return [(ctx, lab, draw_attributes(task, lab, run.rng)) for ctx in contexts for lab in task.label_ids
                if wanted[lab] > 0]

    def prompt(self, run: Run, job: Job) -> str:
        ctx, lab, at = job
        return build_prompt(run.model, attr_instruction(run.task, lab, ctx, at))

    def parse(self, run: Run, job: Job, c: Completion) -> GeneratedRecord | None:
        ctx, lab, at = job
        text = run.clean(c, ctx)
        if text is None or run.need[lab] <= 0:
            return None
        return run.record(c, text, lab, ctx, attributes=dict(at))
