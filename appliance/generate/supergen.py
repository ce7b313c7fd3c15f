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

from dataclasses import dataclass, replace
from typing import Iterator

from appliance.engine.interface import SamplingParams, TextModel
from appliance.generate.base import Progress, ProgressFn
from appliance.generate.common import clean_output, split_need, prompts_per_batch
from appliance.generate.postprocess import dedupe
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen, build_prompt
from appliance.spec import TaskSpec


def select_top(cands: list[GeneratedRecord], keep: int) -> tuple[list[GeneratedRecord], list[GeneratedRecord]]:
    """The ``keep`` candidates with the highest mean log-probability, and the rest."""
    ranked = sorted(cands, key=lambda r: r.meta["mean_logprob"], reverse=True)
    return ranked[:keep], ranked[keep:]


@dataclass
class SuperGen(ZeroGen):
    name: str = "supergen"
    oversample: float = 3.0
    repeat_penalty: float = 1.2

    def params(self, task: TaskSpec, max_new_tokens: int, seed: int) -> SamplingParams:
        return replace(super().params(task, max_new_tokens, seed), repeat_penalty=self.repeat_penalty)

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]:
        labels = task.label_ids
        need = split_need(labels, n)
        want = {lab: int(round(k * self.oversample)) for lab, k in need.items()}
        cands: dict[str, list[GeneratedRecord]] = {lab: [] for lab in labels}
        prog = Progress(target=n)
        seen: set[tuple[str, str, str]] = set()
        for rnd in range(self.max_rounds):
            short = {lab: want[lab] - len(cands[lab]) for lab in labels}
            if max(short.values()) <= 0:
                break
            rseed = seed + 1_000_003 * (rnd + 1)
            contexts = self.contexts(model, task, max(short.values()), rseed, prog)
            jobs = [(ctx, lab) for ctx in contexts for lab in labels if short[lab] > 0]
            for start in range(0, len(jobs), prompts_per_batch(self, model)):
                chunk = jobs[start : start + prompts_per_batch(self, model)]
                prompts = [build_prompt(model, task.label(lab).instruction(ctx)) for ctx, lab in chunk]
                comps = model.generate(prompts, self.params(task, task.max_new_tokens, rseed + 17 + start))
                for (ctx, lab), c in zip(chunk, comps):
                    prog.tokens += c.n_tokens
                    text = clean_output(c.raw_text, task, ctx)
                    if text is None:
                        prog.drop("too_short_or_unfinished")
                        continue
                    rec = GeneratedRecord(
                        text=text, label=lab, context=ctx, method=self.name,
                        meta={"n_tokens": c.n_tokens, "mean_logprob": round(c.mean_logprob, 4)},
                    )
                    if not dedupe([rec], seen):
                        prog.drop("duplicate")
                        continue
                    cands[lab].append(rec)
                if progress:
                    progress(prog)
        for lab in labels:
            kept, rest = select_top(cands[lab], need[lab])
            prog.drop("ranked_out", len(rest))
            best_dropped = rest[0].meta["mean_logprob"] if rest else None
            for rank, r in enumerate(kept, 1):
                r.meta.update(rank=rank, candidates=len(cands[lab]), best_dropped=best_dropped)
            prog.accepted += len(kept)
            if progress:
                progress(prog)
            if kept:
                yield kept
