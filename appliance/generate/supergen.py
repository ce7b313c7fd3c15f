"""Log-probability selection (SuperGen: Meng et al., 2022, "Generating Training Data with Language Models:
Towards Zero-Shot Language Understanding").

Over-generate label-conditioned texts (``oversample`` × the records wanted, per label), then rank the candidates
of each label by their mean token log-probability under the generator and keep the top N per label: texts the
model itself finds most likely under the label's prompt are the ones most likely to carry the label. As in the
paper's code for SST-2, sampling uses a repetition penalty of 1.2 so that the ranking does not reward repetitive
text (a repeated token gets a lower probability and so a lower score). ``Completion.mean_logprob`` is the mean
log-probability of the sampled tokens under the decoding distribution. Prompts and output rules are ZeroGen's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator

from appliance.engine.interface import Completion, SamplingParams
from appliance.generate.base import METHODS, Run
from appliance.generate.options import Option
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import Job, ZeroGen
from appliance.spec import TaskSpec


def select_top(cands: list[GeneratedRecord], keep: int) -> tuple[list[GeneratedRecord], list[GeneratedRecord]]:
    """The ``keep`` candidates with the highest mean log-probability, and the rest."""
    ranked = sorted(cands, key=lambda r: r.meta["mean_logprob"], reverse=True)
    return ranked[:keep], ranked[keep:]


@METHODS.register
class SuperGen(ZeroGen):
    """ZeroGen's loop with every parsed text held back as a candidate (``run.held``) until the rounds end; then
    the best of each label are emitted."""

    name = "supergen"
    options = (
        Option("oversample", float, 3.0, "candidates generated per record wanted", minimum=1.0, maximum=100.0),
        Option("repeat_penalty", float, 1.2, "sampling repetition penalty, so the ranking does not reward repetition",
               minimum=0.0),
    )

    def params(self, task: TaskSpec, max_new_tokens: int, seed: int) -> SamplingParams:
        return replace(super().params(task, max_new_tokens, seed), repeat_penalty=self.repeat_penalty)

    def wanted(self, run: Run) -> dict[str, int]:
        return {lab: int(round(k * self.oversample)) - len(run.held[lab]) for lab, k in run.need.items()}

    def parse(self, run: Run, job: Job, c: Completion) -> GeneratedRecord | None:
        ctx, lab = job
        text = run.clean(c, ctx)
        if text is not None:
            rec = run.record(c, text, lab, ctx)
            if run.unique(rec):
                run.held[lab].append(rec)
        return None  # nothing is committed before the ranking

    def finish(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        for lab in run.task.label_ids:
            cands = run.held[lab]
            kept, rest = select_top(cands, run.need[lab])
            run.prog.drop("ranked_out", len(rest))
            best_dropped = rest[0].meta["mean_logprob"] if rest else None
            for rank, r in enumerate(kept, 1):
                r.meta.update(rank=rank, candidates=len(cands), best_dropped=best_dropped)
            yield from run.emit(kept)
