"""Few-shot generation from seed records (in-context, in the style of FewGen).

FewGen (Meng et al., 2023, "Tuning Language Models as Training Data Generators for Augmentation-Enhanced
Few-Shot Learning") conditions a generator on the few labelled examples of each label. This is its in-context
form, without tuning the generator (the prompting of Brown et al., 2020): every prompt shows ``k`` seed records
of one label, drawn at random from that label's seeds, as a numbered list, and the model writes the next item.
A numbered list that the model continues suits a 135M model far better than an instruction (see ZeroGen's
context stage). Demonstrations are always of the label being generated.

Privacy: seeds pass through ``redact`` (the privacy gate's anonymizer) before they enter any prompt; with the
default (no anonymizer) the raw seeds are used, and every record says which in ``meta["seeds_in_prompt"]``
("raw" or "redacted"). Outputs whose word set overlaps ≥ 90 % with one of their demonstrations are dropped, so
the model's copies of a seed never become records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from appliance.engine.interface import SamplingParams, TextModel
from appliance.generate.base import Progress, ProgressFn
from appliance.generate.common import clean_output, copies_any, emit, keep, seeds_by_label, split_need
from appliance.generate.records import GeneratedRecord
from appliance.spec import TaskSpec


def fewshot_prompt(task: TaskSpec, label_id: str, demos: list[str]) -> str:
    lab = task.label(label_id)
    lines = [f"{task.description} Examples where {lab.description} (label: {lab.id}):"]
    lines += [f'{i}. "{d}"' for i, d in enumerate(demos, 1)]
    lines.append(f'{len(demos) + 1}. "')
    return "\n".join(lines)


@dataclass
class FewGen:
    name: str = "fewgen"
    uses_label_prompts = False  # its prompts are the seeds, so attribute placeholders in label prompts do not matter
    seeds: list[dict[str, Any]] = field(default_factory=list)
    redact: Callable[[str], str] | None = None  # the gate's anonymizer; None: raw seeds in prompts
    k: int = 4  # demonstrations per prompt
    samples_per_prompt: int = 2  # samples drawn from each prompt (its KV cache is shared)
    overlap_threshold: float = 0.9
    temperature: float | None = None
    top_p: float | None = None
    batch_size: int = 64
    max_rounds: int = 8

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]:
        by_label = seeds_by_label(self.seeds, task, self.name)
        redact = self.redact or (lambda t: t)
        shown = {lab: [(s["id"], redact(s["text"])) for s in rows] for lab, rows in by_label.items()}
        mode = "redacted" if self.redact is not None else "raw"
        need = split_need(task.label_ids, n)
        rng = random.Random(seed)
        prog = Progress(target=n)
        seen: set[tuple[str, str, str]] = set()
        params = SamplingParams(
            temperature=self.temperature if self.temperature is not None else task.temperature,
            top_p=self.top_p if self.top_p is not None else task.top_p,
            max_new_tokens=task.max_new_tokens,
            min_new_tokens=1,
            stop=('"', "\n"),
        )
        for rnd in range(self.max_rounds):
            if not any(need.values()):
                break
            jobs: list[tuple[str, list[tuple[Any, str]]]] = []
            for lab, want in need.items():
                n_prompts = -(-max(0, want) * 3 // 2 // self.samples_per_prompt) if want > 0 else 0
                for _ in range(n_prompts):
                    jobs.append((lab, rng.sample(shown[lab], min(self.k, len(shown[lab])))))
            for start in range(0, len(jobs), self.batch_size):
                chunk = jobs[start : start + self.batch_size]
                prompts = [fewshot_prompt(task, lab, [t for _, t in demos]) for lab, demos in chunk]
                expanded = [(j, p) for j, p in enumerate(prompts) for _ in range(self.samples_per_prompt)]
                comps = model.generate(
                    [p for _, p in expanded],
                    SamplingParams(**{**params.__dict__, "seed": seed + 100_003 * rnd + start * self.samples_per_prompt}),
                )
                batch: list[GeneratedRecord] = []
                for (j, _), c in zip(expanded, comps):
                    prog.tokens += c.n_tokens
                    lab, demos = chunk[j]
                    text = clean_output(c.raw_text, task)
                    if text is None:
                        prog.drop("too_short_or_unfinished")
                        continue
                    if copies_any(text, [t for _, t in demos], self.overlap_threshold):
                        prog.drop("copies_demonstration")
                        continue
                    if need[lab] <= 0:
                        continue
                    rec = GeneratedRecord(
                        text=text,
                        label=lab,
                        method=self.name,
                        meta={
                            "n_tokens": c.n_tokens,
                            "mean_logprob": round(c.mean_logprob, 4),
                            "seeds_in_prompt": mode,
                            "demo_ids": [i for i, _ in demos],
                        },
                    )
                    keep(rec, need, seen, prog, batch)
                yield from emit(batch, prog, progress)
