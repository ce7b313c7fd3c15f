"""Private Evolution for text (Aug-PE: Xie et al., 2024, "Differentially Private Synthetic Data via Foundation
Model APIs 2: Text"; PE: Lin et al., 2024), differentially private without training.

1. Start from label-conditioned samples: ``population`` per label from ZeroGen's prompts (the model never sees a
   private seed).
2. Each round, every private seed votes for its nearest synthetic sample of the same label (cosine similarity of
   character 3–5-gram TF-IDF vectors; the vectorizer is fitted on the synthetic texts only, so the embedding does
   not depend on private data). Gaussian noise N(0, σ²) is added to every bin of the vote histogram.
3. The top-voted half of each label's population survives; the model writes a variation of each survivor
   (rephrase, keep the label) to refill it (up to 3 tries; when the 135M model keeps copying, fresh
   label-conditioned samples fill the rest — they depend on no private data). Repeat for ``rounds`` rounds (T histograms in all).
4. The output is the top-voted ``n`` samples of the last round's noisy histogram (near-copies — ≥ 90 % shared
   words — of a sample already kept are skipped; variations that near-copy their source are dropped).

Only noisy votes leave the voting step (they go into each record's meta); clean counts are never stored.
ε for σ and T is computed before anything runs (``generate.dp``, δ = 1/(N·ln N)) and the method refuses to start
when it exceeds ``epsilon_budget`` (the privacy policy's budget; default 8).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from appliance.errors import BadInput
from appliance.generate.base import METHODS, Run
from appliance.generate.common import copies_any, seeds_by_label
from appliance.generate.dp import default_delta, gaussian_epsilon
from appliance.generate.options import Capabilities, Option
from appliance.generate.postprocess import dedupe
from appliance.generate.records import GeneratedRecord
from appliance.generate.zerogen import ZeroGen, build_prompt
from appliance.spec import TaskSpec


def nearest_votes(synthetic: list[str], private: list[str]) -> np.ndarray:
    """Votes per synthetic sample: each private text votes once, for its nearest synthetic text (cosine)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(synthetic)
    s = vec.transform(synthetic)
    p = vec.transform(private)
    sim = (p @ s.T).toarray()
    return np.bincount(sim.argmax(axis=1), minlength=len(synthetic)).astype(float)


def variation_instruction(task: TaskSpec, label_id: str, text: str) -> str:
    lab = task.label(label_id)
    return (
        f"Rewrite the following text in different words, keeping what it says ({lab.description}). "
        f'Reply with the rewritten text only.\nText: "{text}"'
    )


@METHODS.register
class AugPE(ZeroGen):
    name = "augpe"
    options = (
        Option("rounds", int, 3, "Private Evolution rounds (noisy vote histograms)", minimum=1, maximum=100),
        Option("noise_multiplier", float, 2.0, "Gaussian noise σ on the votes", minimum=0.0),
        Option("epsilon_budget", float, 8.0, "refuse to start when ε exceeds it", minimum=0.0),
        Option("population_factor", float, 2.0, "synthetic samples per label, relative to the records wanted",
               minimum=1.0, maximum=100.0),
        Option("delta", float, None, "δ of the privacy guarantee (default: 1/(N ln N), N the seeds)",
               minimum=0.0, maximum=1.0),
    )
    capabilities = Capabilities(needs_seeds=True, spends_privacy=True)

    def privacy(self) -> dict[str, float]:
        n_priv = len(self.seeds)
        delta = self.delta if self.delta is not None else default_delta(n_priv)
        eps = gaussian_epsilon(self.noise_multiplier, self.rounds, delta)
        return {"epsilon": eps, "delta": delta, "noise_multiplier": self.noise_multiplier, "rounds": self.rounds, "n_private": n_priv}

    def check(self, task: TaskSpec) -> dict[str, float]:
        """Refuse (BadInput) when the seeds are missing, δ is too large to mean anything or ε exceeds the budget;
        returns the privacy figures."""
        seeds_by_label(self.seeds, task, self.name)
        if self.rounds < 1:
            raise BadInput("augpe needs at least 1 round")
        if self.delta is not None and self.delta >= 1 / len(self.seeds):  # δ ≥ 1/N allows releasing a seed outright
            raise BadInput(f"augpe: δ = {self.delta:g} must be below 1/N = {1 / len(self.seeds):.2g} (N = "
                            f"{len(self.seeds)} seed records); leave it unset for 1/(N ln N)")
        priv = self.privacy()
        if priv["epsilon"] > self.epsilon_budget:
            raise BadInput(
                f"augpe: ε = {priv['epsilon']:.2f} (δ = {priv['delta']:.2g}, σ = {self.noise_multiplier}, "
                f"{self.rounds} rounds) exceeds the privacy budget ε ≤ {self.epsilon_budget}; raise the noise or use fewer rounds"
            )
        return priv

    def _texts(self, run: Run, prompts_of: list[tuple[str, str, str, str]], seed: int) -> list[tuple[str, str, str] | None]:
        """(label, context, instruction, source text) → (label, context, text) or None, in batches. A variation that
        keeps ≥ 90 % of its source's words is dropped: it adds nothing to the population."""
        out: list[tuple[str, str, str] | None] = []
        task, model = run.task, run.model
        for start in range(0, len(prompts_of), run.batch_size):
            chunk = prompts_of[start : start + run.batch_size]
            prompts = [build_prompt(model, ins) for _, _, ins, _ in chunk]
            comps = run.complete(prompts, self.params(task, task.max_new_tokens, seed + start))
            for (lab, ctx, _, src), c in zip(chunk, comps):
                text = run.clean(c, ctx)
                if text is not None and src and copies_any(text, [src]):
                    run.prog.drop("variation_too_close")
                    text = None
                out.append(None if text is None else (lab, ctx, text))
        return out

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        model, task, seed, need, seen = run.model, run.task, run.seed, run.need, run.seen
        priv = self.check(task)
        private = {lab: [s["text"] for s in rows] for lab, rows in seeds_by_label(self.seeds, task, self.name).items()}
        labels = task.label_ids
        size = {lab: max(need[lab] + 1, int(round(need[lab] * self.population_factor))) for lab in labels}
        noise = np.random.default_rng(seed ^ 0x5EED)
        pop: dict[str, list[tuple[str, str]]] = {lab: [] for lab in labels}  # (context, text)

        def add(results) -> None:
            for item in results:
                if item is None:
                    continue
                lab, ctx, text = item
                if dedupe([GeneratedRecord(text=text, label=lab)], seen) and len(pop[lab]) < size[lab]:
                    pop[lab].append((ctx, text))

        def fill(base: int) -> None:  # label-conditioned samples from the task's prompts, up to the population size
            for attempt in range(self.max_rounds):
                short = {lab: size[lab] - len(pop[lab]) for lab in labels}
                if max(short.values()) <= 0:
                    break
                ctxs = self.contexts(model, task, max(short.values()) + 2, base + 1_000_003 * (attempt + 1), run.prog)
                jobs = [(lab, c, task.label(lab).instruction(c), "") for c in ctxs for lab in labels if short[lab] > 0]
                add(self._texts(run, jobs, base + 31 * attempt))
                run.report()

        fill(seed)  # 1. the initial population
        votes: dict[str, np.ndarray] = {}
        for rnd in range(self.rounds):
            for lab in labels:  # 2. private votes + Gaussian noise (one histogram over all labels' bins)
                if not pop[lab]:
                    votes[lab] = np.zeros(0)
                    continue
                clean = nearest_votes([t for _, t in pop[lab]], private[lab])
                votes[lab] = clean + noise.normal(0.0, self.noise_multiplier, size=len(clean))
            if rnd == self.rounds - 1:
                break
            survivors = {}
            for lab in labels:  # 3. keep the top-voted half, refill with variations of the survivors
                order = np.argsort(-votes[lab], kind="stable")
                survivors[lab] = pop[lab] = [pop[lab][i] for i in order[: max(1, len(order) // 2)]]
            for attempt in range(3):
                jobs = []
                for lab in labels:
                    keep = survivors[lab]
                    jobs += [
                        (lab, keep[k % len(keep)][0], variation_instruction(task, lab, keep[k % len(keep)][1]), keep[k % len(keep)][1])
                        for k in range(size[lab] - len(pop[lab]))
                    ] if keep else []
                if not jobs:
                    break
                add(self._texts(run, jobs, seed + 7_000_001 * (rnd + 1) + 5003 * attempt))
            fill(seed + 9_000_011 * (rnd + 1))  # variations the model only copied: top up with fresh samples
            run.report()
        for lab in labels:  # 4. the top-voted of the last histogram, skipping near-copies of one already kept
            order = []
            for i in np.argsort(-votes[lab], kind="stable"):
                if len(order) < need[lab] and not copies_any(pop[lab][i][1], [pop[lab][j][1] for j in order]):
                    order.append(i)
            for i in np.argsort(-votes[lab], kind="stable"):  # too few distinct ones: fill up in vote order
                if len(order) < need[lab] and i not in order:
                    order.append(i)
            batch = [
                GeneratedRecord(
                    text=pop[lab][i][1], label=lab, context=pop[lab][i][0], method=self.name,
                    meta={"noisy_votes": round(float(votes[lab][i]), 3), "epsilon": round(priv["epsilon"], 4),
                          "delta": priv["delta"], "rounds": self.rounds, "noise_multiplier": self.noise_multiplier},
                )
                for i in order
            ]
            yield from run.emit(batch)
