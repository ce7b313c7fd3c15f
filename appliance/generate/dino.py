"""Datasets from instructions with self-debiasing (DINO: Schick & Schütze, 2021, "Generating Datasets with
Pretrained Language Models"; self-debiasing from Schick, Udupa & Schütze, 2021).

Each text is written under its label's instruction (the label prompt of the task spec, which verbalizes the label)
while the instructions of all other labels — the counter-labels — read the same continuation in parallel
sequences. At every step the label's next-token distribution p is reweighted against the counter-labels' largest
probability q: p · max(ε, exp(−λ · max(0, q − p))), λ = ``decay`` (default 200), ε = 0.01. Tokens that would make
the text fit another label better are suppressed, so fewer texts drift off their label. The decoding runs in
``engine.debias``: all sequences of all texts in a wave share one ``llama_decode`` per step. Contexts come from
ZeroGen's first stage; outputs go through ZeroGen's cut/drop/dedupe rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from appliance.engine.debias import DEFAULT_DECAY, DEFAULT_EPSILON, generate_debiased
from appliance.engine.interface import TextModel, supports_debiasing
from appliance.errors import UserError
from appliance.generate.base import Progress, ProgressFn
from appliance.generate.common import clean_output, emit, keep, prompts_per_batch, split_need
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen, build_prompt
from appliance.spec import TaskSpec


@dataclass
class Dino(ZeroGen):
    name: str = "dino"
    decay: float = DEFAULT_DECAY
    epsilon: float = DEFAULT_EPSILON

    def group(self, model: TextModel, task: TaskSpec, label_id: str, context: str) -> list[str]:
        """The label's prompt first, then every counter-label's prompt for the same context."""
        order = [label_id] + [lab for lab in task.label_ids if lab != label_id]
        return [build_prompt(model, task.label(lab).instruction(context)) for lab in order]

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]:
        if not supports_debiasing(model):
            raise UserError("dino needs the local llama.cpp engine (self-debiasing decodes parallel sequences)")
        labels = task.label_ids
        need = split_need(labels, n)
        prog = Progress(target=n)
        seen: set[tuple[str, str, str]] = set()
        for rnd in range(self.max_rounds):
            if not any(need.values()):
                break
            rseed = seed + 1_000_003 * (rnd + 1)
            contexts = self.contexts(model, task, max(need.values()), rseed, prog)
            jobs = [(ctx, lab) for ctx in contexts for lab in labels if need[lab] > 0]
            step = max(1, prompts_per_batch(self, model) // len(labels))
            for start in range(0, len(jobs), step):
                chunk = jobs[start : start + step]
                groups = [self.group(model, task, lab, ctx) for ctx, lab in chunk]
                comps = generate_debiased(
                    model, groups, self.params(task, task.max_new_tokens, rseed + 17 + start),  # type: ignore[arg-type]
                    decay=self.decay, epsilon=self.epsilon,
                )
                batch: list[GeneratedRecord] = []
                for (ctx, lab), c in zip(chunk, comps):
                    prog.tokens += c.n_tokens  # text tokens; each decoded in len(labels) sequences
                    text = clean_output(c.raw_text, task, ctx)
                    if text is None:
                        prog.drop("too_short_or_unfinished")
                        continue
                    if need[lab] <= 0:
                        continue
                    rec = GeneratedRecord(
                        text=text, label=lab, context=ctx, method=self.name,
                        meta={"n_tokens": c.n_tokens, "mean_logprob": round(c.mean_logprob, 4), "decay": self.decay},
                    )
                    keep(rec, need, seen, prog, batch)
                yield from emit(batch, prog, progress)
