"""ZeroGen (Ye et al., 2022, "ZeroGen: Efficient Zero-shot Learning via Dataset Generation").

Two stages. Stage 1 samples contexts (movie titles, patient presentations, everyday situations) from the task's
context prompt. Stage 2 samples, for each context and each label, a text from the label's prompt with the context
filled in. Decoding follows the paper's code: nucleus sampling with top-p 0.9 and temperature 1.0, no top-k.
Instruction-tuned models get the chat template with the answer opened by a quote; base models get the raw prompt
ending in an opening quote. Outputs go through ``postprocess`` (cut, drop, dedupe).
"""

from __future__ import annotations

from typing import Any, Iterator

from appliance.engine.interface import Completion, SamplingParams, TextModel
from appliance.generate.base import METHODS, Method, Progress, Run
from appliance.generate.options import Option
from appliance.generate.postprocess import cut_output, keep_text
from appliance.generate.records import GeneratedRecord
from appliance.spec import TaskSpec

Job = Any  # what one prompt is made from: (context, label) here; subclasses add to it


def build_prompt(model: TextModel, instruction: str) -> str:
    """The instruction as the model expects it, ending in an opening quote."""
    if model.instruct:
        return model.format_prompt(instruction, assistant_prefix='"')
    return f'{instruction}\n"'


def context_prompt(model: TextModel, task: TaskSpec) -> str:
    """Stage-1 prompt. With example contexts in the spec, a numbered list the model continues (raw completion,
    which small models follow far better than an instruction: measured on SmolLM2-135M, 6 of 6 usable contexts
    against 2 of 6); without examples, the instruction itself."""
    if not task.context_examples:
        return build_prompt(model, task.context_prompt)
    lines = [task.context_prompt]
    lines += [f'{i}. "{ex}"' for i, ex in enumerate(task.context_examples, 1)]
    lines.append(f'{len(task.context_examples) + 1}. "')
    return "\n".join(lines)


@METHODS.register
class ZeroGen(Method):
    """The two-stage loop the context-based methods share: each round samples contexts for the labels still
    wanted, turns (context, label) jobs into prompts in committed batches and parses each completion. Subclasses
    change the jobs, the prompts (``complete``) or the parsing (``parse``), not the loop."""

    name = "zerogen"
    options = (
        Option("batch_size", int, None, "prompts per committed batch (default: 4 × the model's parallel slots)",
               minimum=1, maximum=4096),
        Option("max_rounds", int, 6, "rounds of contexts before giving up on the labels still short", minimum=1,
               maximum=100),
    )

    def contexts(self, model: TextModel, task: TaskSpec, n: int, seed: int, progress: Progress) -> list[str]:
        """Stage 1: ``n`` distinct contexts (fewer if the model keeps repeating itself)."""
        prompt = context_prompt(model, task)
        out: list[str] = []
        seen: set[str] = set()
        max_tokens = max(8, task.context_max_words * 2)
        for rnd in range(self.max_rounds):  # type: ignore[attr-defined]
            want = n - len(out)
            if want <= 0:
                break
            k = min(max(want * 2, 8), 512)
            comps = model.generate([prompt] * k, self.params(task, max_tokens, seed + 7919 * rnd))
            for c in comps:
                progress.tokens += c.n_tokens
                text = cut_output(c.raw_text)
                if text is None or len(text.split()) > task.context_max_words:
                    progress.drop("context_unusable")
                    continue
                text = text.strip().strip(".").strip()
                if not text or text.lower() in seen:
                    progress.drop("context_duplicate")
                    continue
                seen.add(text.lower())
                out.append(text)
        return out[:n]

    def wanted(self, run: Run) -> dict[str, int]:
        """Records still wanted per label; the loop ends when none is."""
        return run.need

    def jobs(self, run: Run, contexts: list[str], wanted: dict[str, int]) -> list[Job]:
        return [(ctx, lab) for ctx in contexts for lab in run.task.label_ids if wanted[lab] > 0]

    def chunk_size(self, run: Run) -> int:
        return run.batch_size

    def prompt(self, run: Run, job: Job) -> str:
        """The prompt one job is completed from."""
        ctx, lab = job
        return build_prompt(run.model, run.task.label(lab).instruction(ctx))

    def complete(self, run: Run, jobs: list[Job], params: SamplingParams, size: int) -> Iterator[list[Completion]]:
        """The completions of a round's jobs in chunks of ``size`` (job ``i`` sampled with seed ``params.seed + i``);
        the whole round goes to the engine at once where it can take it (``Run.complete_chunks``)."""
        return run.complete_chunks([self.prompt(run, job) for job in jobs], params, size)

    def parse(self, run: Run, job: Job, c: Completion) -> GeneratedRecord | None:
        """The record a completion gives, or None (a dropped text counted by its reason, or a label already full)."""
        ctx, lab = job
        task = run.task
        text = cut_output(c.raw_text)
        if not keep_text(text, ctx, task.min_words, task.max_words):
            run.prog.drop("too_short_or_unfinished" if text is None or len(text.split()) < task.min_words else "off_spec")
            return None
        if run.need[lab] <= 0:
            return None
        return run.record(c, text, lab, ctx, finish=c.finish_reason)  # type: ignore[arg-type]

    def finish(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        """After the rounds: batches of records held back until then (none here)."""
        return iter(())

    def records(self, run: Run) -> Iterator[list[GeneratedRecord]]:
        task = run.task
        for rnd in range(self.max_rounds):  # type: ignore[attr-defined]
            wanted = self.wanted(run)
            if max(wanted.values()) <= 0:
                break
            rseed = run.seed + 1_000_003 * (rnd + 1)
            contexts = self.contexts(run.model, task, max(wanted.values()), rseed, run.prog)
            jobs = self.jobs(run, contexts, wanted)
            size = self.chunk_size(run)
            params = self.params(task, task.max_new_tokens, rseed + 17)
            for k, comps in enumerate(self.complete(run, jobs, params, size)):
                chunk = jobs[k * size : (k + 1) * size]
                batch: list[GeneratedRecord] = []
                for job, c in zip(chunk, comps):
                    rec = self.parse(run, job, c)
                    if rec is not None:
                        run.keep(rec, batch)
                yield from run.emit(batch)
        yield from self.finish(run)
