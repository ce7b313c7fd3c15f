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

from dataclasses import replace
from typing import Iterator

from appliance.engine.debias import DEFAULT_DECAY, DEFAULT_EPSILON, generate_debiased
from appliance.engine.interface import Completion, SamplingParams, TextModel, supports_debiasing
from appliance.errors import MissingDependency
from appliance.generate.base import METHODS, Run
from appliance.generate.options import Capabilities, Option
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import Job, ZeroGen, build_prompt
from appliance.spec import TaskSpec


@METHODS.register
class Dino(ZeroGen):
    name = "dino"
    options = (
        Option("decay", float, DEFAULT_DECAY, "self-debiasing strength λ against the counter-labels", minimum=0.0),
        Option("epsilon", float, DEFAULT_EPSILON, "self-debiasing floor ε of a token's weight (not privacy)",
               minimum=0.0, maximum=1.0),
    )
    capabilities = Capabilities(needs_slots=True, debiases=True)  # one parallel sequence per label for every text

    def group(self, model: TextModel, task: TaskSpec, label_id: str, context: str) -> list[str]:
        """The label's prompt first, then every counter-label's prompt for the same context."""
        order = [label_id] + [lab for lab in task.label_ids if lab != label_id]
        return [build_prompt(model, task.label(lab).instruction(context)) for lab in order]

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        model = run.model
        if not supports_debiasing(model):
            raise MissingDependency("dino needs the local llama.cpp engine (self-debiasing decodes parallel sequences)")
        yield from super().records(run)

    def chunk_size(self, run: Run) -> int:
        return max(1, run.batch_size // len(run.task.label_ids))

    def complete(self, run: Run, jobs: list[Job], params: SamplingParams, size: int) -> Iterator[list[Completion]]:
        for start in range(0, len(jobs), size):
            groups = [self.group(run.model, run.task, lab, ctx) for ctx, lab in jobs[start : start + size]]
            comps = generate_debiased(run.model, groups, replace(params, seed=params.seed + start),  # type: ignore[arg-type]
                                      decay=self.decay, epsilon=self.epsilon)
            yield run.count(comps)  # text tokens; each decoded in len(labels) sequences

    def parse(self, run: Run, job: Job, c: Completion) -> GeneratedRecord | None:
        ctx, lab = job
        text = run.clean(c, ctx)
        if text is None or run.need[lab] <= 0:
            return None
        return run.record(c, text, lab, ctx, decay=self.decay)
