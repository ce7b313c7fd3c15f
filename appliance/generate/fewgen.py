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

from typing import Any, Iterator

from appliance.generate.base import METHODS, Method, Run
from appliance.generate.common import copies_any, seeds_by_label
from appliance.generate.options import Capabilities, Option
from appliance.generate.records import GeneratedRecord
from appliance.spec import TaskSpec


def fewshot_prompt(task: TaskSpec, label_id: str, demos: list[str]) -> str:
    lab = task.label(label_id)
    lines = [f"{task.description} Examples where {lab.description} (label: {lab.id}):"]
    lines += [f'{i}. "{d}"' for i, d in enumerate(demos, 1)]
    lines.append(f'{len(demos) + 1}. "')
    return "\n".join(lines)


@METHODS.register
class FewGen(Method):
    name = "fewgen"
    options = (
        Option("k", int, 4, "seed demonstrations per prompt", minimum=1, maximum=64),
        Option("samples_per_prompt", int, 2, "samples drawn from each prompt (its KV cache is shared)", minimum=1,
               maximum=64),
        Option("overlap_threshold", float, 0.9, "word overlap with a demonstration at which an output is a copy",
               minimum=0.0, maximum=1.0),
        Option("batch_size", int, 64, "prompts per committed batch", minimum=1, maximum=4096),
        Option("max_rounds", int, 8, "rounds before giving up on the labels still short", minimum=1,
               maximum=100),
    )
    # Its prompts are the seeds (redacted by the gate's anonymizer unless the policy allows raw seeds), so
    # attribute placeholders in label prompts do not matter.
    capabilities = Capabilities(needs_seeds=True, shows_seeds=True, uses_label_prompts=False)

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        task, seed, need, rng = run.task, run.seed, run.need, run.rng
        by_label = seeds_by_label(self.seeds, task, self.name)
        redact = self.redact or (lambda t: t)
        shown = {lab: [(s["id"], redact(s["text"])) for s in rows] for lab, rows in by_label.items()}
        mode = "redacted" if self.redact is not None else "raw"
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
                params = self.params(task, task.max_new_tokens, seed + 100_003 * rnd + start * self.samples_per_prompt)
                comps = run.complete([p for _, p in expanded], params)
                batch: list[GeneratedRecord] = []
                for (j, _), c in zip(expanded, comps):
                    lab, demos = chunk[j]
                    text = run.clean(c)
                    if text is None:
                        continue
                    if copies_any(text, [t for _, t in demos], self.overlap_threshold):
                        run.prog.drop("copies_demonstration")
                        continue
                    if need[lab] <= 0:
                        continue
                    rec = run.record(c, text, lab, seeds_in_prompt=mode, demo_ids=[i for i, _ in demos])
                    run.keep(rec, batch)
                yield from run.emit(batch)
