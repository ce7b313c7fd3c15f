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
from dataclasses import dataclass
from typing import Iterator

from appliance.engine.interface import TextModel
from appliance.errors import UserError
from appliance.generate.base import Progress, ProgressFn
from appliance.generate.common import clean_output, emit, keep, prompts_per_batch, split_need
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen, build_prompt
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


@dataclass
class AttrPrompt(ZeroGen):
    name: str = "attrprompt"
    fills_attributes = True  # the one method whose prompts may name attributes as {NAME} (see build_method)

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]:
        if not task.attributes:
            raise UserError(f"attrprompt needs [attributes] in the task spec; {task.name} has none")
        labels = task.label_ids
        need = split_need(labels, n)
        rng = random.Random(seed)
        prog = Progress(target=n)
        seen: set[tuple[str, str, str]] = set()
        for rnd in range(self.max_rounds):
            if not any(need.values()):
                break
            rseed = seed + 1_000_003 * (rnd + 1)
            contexts = self.contexts(model, task, max(need.values()), rseed, prog)
            if not contexts:
                continue
            jobs = [(ctx, lab, draw_attributes(task, lab, rng)) for ctx in contexts for lab in labels if need[lab] > 0]
            for start in range(0, len(jobs), prompts_per_batch(self, model)):
                chunk = jobs[start : start + prompts_per_batch(self, model)]
                prompts = [build_prompt(model, attr_instruction(task, lab, ctx, at)) for ctx, lab, at in chunk]
                comps = model.generate(prompts, self.params(task, task.max_new_tokens, rseed + 17 + start))
                batch: list[GeneratedRecord] = []
                for (ctx, lab, at), c in zip(chunk, comps):
                    prog.tokens += c.n_tokens
                    text = clean_output(c.raw_text, task, ctx)
                    if text is None:
                        prog.drop("too_short_or_unfinished")
                        continue
                    if need[lab] <= 0:
                        continue
                    rec = GeneratedRecord(
                        text=text, label=lab, context=ctx, attributes=dict(at), method=self.name,
                        meta={"n_tokens": c.n_tokens, "mean_logprob": round(c.mean_logprob, 4)},
                    )
                    keep(rec, need, seen, prog, batch)
                yield from emit(batch, prog, progress)
