"""In-context feedback (ProGen: Ye et al., 2022, "ProGen: Progressive Zero-shot Dataset Generation via In-context
Feedback").

Generation runs in ``rounds``. Before the first, a synthetic validation set is generated once (zero-shot, ZeroGen's
prompts) and frozen; it is the yardstick, not part of the output. After each round the task model (logistic
regression over TF-IDF/SVD features, ``generate.influence``) is retrained on all records so far — a growing
checkpoint — and every record is scored by its helpfulness: its influence on the validation set's reverse
cross-entropy. The most helpful records of each label form that label's pool. In the next round each prompt, with
probability 0.5, starts with 8 demonstrations drawn from the same label's pool (fewer while the pool is small);
outputs whose word set overlaps ≥ 90 % with one of their demonstrations are rejected, so the feedback loop does
not copy itself. Contexts, prompts and output rules are otherwise ZeroGen's.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from appliance.generate.base import METHODS, Run
from appliance.generate.common import copies_any
from appliance.generate.options import Option
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen, build_prompt
from appliance.spec import TaskSpec


def demo_instruction(task: TaskSpec, label_id: str, context: str, demos: list[str]) -> str:
    text = task.label(label_id).instruction(context)
    if not demos:
        return text
    shown = "\n".join(f'"{d}"' for d in demos)
    return f"Examples of good answers:\n{shown}\n\n{text}"


@METHODS.register
class ProGen(ZeroGen):
    name = "progen"
    options = (
        Option("rounds", int, 4, "generation rounds, each followed by in-context feedback", minimum=1,
               maximum=100),
        Option("val_per_label", int, 8, "synthetic validation records per label (the feedback's yardstick)", minimum=1,
               maximum=1000),
        Option("pool_per_label", int, 16, "most helpful records per label kept as demonstrations", minimum=1,
               maximum=1000),
        Option("n_demos", int, 8, "demonstrations per prompt", minimum=0, maximum=64),
        Option("demo_prob", float, 0.5, "probability that a prompt shows demonstrations", minimum=0.0, maximum=1.0),
        Option("overlap_threshold", float, 0.9, "word overlap with a demonstration at which an output is a copy",
               minimum=0.0, maximum=1.0),
    )

    def _generate(self, run: Run, jobs: list[tuple[str, str, list[str]]], seed: int) -> list[GeneratedRecord]:
        """Generate one text per (context, label, demos) job; returns the kept records."""
        out = []
        task, model = run.task, run.model
        for start in range(0, len(jobs), run.batch_size):
            chunk = jobs[start : start + run.batch_size]
            prompts = [build_prompt(model, demo_instruction(task, lab, ctx, demos)) for ctx, lab, demos in chunk]
            comps = run.complete(prompts, self.params(task, task.max_new_tokens, seed + 17 + start))
            for (ctx, lab, demos), c in zip(chunk, comps):
                text = run.clean(c, ctx)
                if text is None:
                    continue
                if demos and copies_any(text, demos, self.overlap_threshold):
                    run.prog.drop("copies_demonstration")
                    continue
                rec = run.record(c, text, lab, ctx, n_demos=len(demos))
                if run.unique(rec):
                    out.append(rec)
        return out

    def score(self, task: TaskSpec, train: list[GeneratedRecord], val: list[GeneratedRecord]) -> np.ndarray:
        from appliance.generate.influence import featurize, helpfulness

        ids = {lab: i for i, lab in enumerate(task.label_ids)}
        xt, xv = featurize([r.text for r in train], [[r.text for r in val]])
        yt = np.array([ids[r.label] for r in train])
        yv = np.array([ids[r.label] for r in val])
        if len(set(yt.tolist())) < 2:
            return np.zeros(len(train))
        return helpfulness(xt, yt, xv, yv, len(ids))

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        model, task, seed, need, rng = run.model, run.task, run.seed, run.need, run.rng
        labels = task.label_ids
        # The frozen synthetic validation set (zero-shot).
        val: list[GeneratedRecord] = []
        vneed = {lab: self.val_per_label for lab in labels}
        for attempt in range(3):
            if not any(vneed.values()):
                break
            ctxs = self.contexts(model, task, max(vneed.values()) + 2, seed + 77 + attempt, run.prog)
            jobs = [(c, lab, []) for c in ctxs for lab in labels if vneed[lab] > 0]
            for r in self._generate(run, jobs, seed + 99 + attempt):  # type: ignore[arg-type]
                if vneed[r.label] > 0:
                    vneed[r.label] -= 1
                    val.append(r)
        per_round = {lab: -(-k // self.rounds) for lab, k in need.items()}
        train: list[GeneratedRecord] = []
        pools: dict[str, list[str]] = {lab: [] for lab in labels}
        for rnd in range(self.rounds + self.max_rounds):
            if not any(need.values()):
                break
            want = {lab: min(need[lab], per_round[lab]) if rnd < self.rounds - 1 else need[lab] for lab in labels}
            rseed = seed + 1_000_003 * (rnd + 1)
            ctxs = self.contexts(model, task, max(want.values()) + 1, rseed, run.prog)
            jobs = []
            for c in ctxs:
                for lab in labels:
                    if want[lab] > 0:
                        use = pools[lab] and rng.random() < self.demo_prob
                        demos = rng.sample(pools[lab], min(self.n_demos, len(pools[lab]))) if use else []
                        jobs.append((c, lab, demos))
            batch = []
            for r in self._generate(run, jobs, rseed):
                if want[r.label] > 0 and need[r.label] > 0:
                    want[r.label] -= 1
                    need[r.label] -= 1
                    r.meta["round"] = rnd
                    batch.append(r)
            train += batch
            # Feedback: retrain on everything so far (a growing checkpoint) and rebuild each label's pool.
            if train and val:
                h = self.score(task, train, val)
                for r, s in zip(train, h):
                    r.meta["helpfulness"] = round(float(s), 5)
                for lab in labels:
                    ranked = sorted((r for r in train if r.label == lab), key=lambda r: -r.meta["helpfulness"])
                    pools[lab] = [r.text for r in ranked[: self.pool_per_label] if r.meta["helpfulness"] > 0]
            yield from run.emit(batch)
