"""What every generation method is: a ``Method`` subclass that declares its options and capabilities and writes
its prompts and its parsing; the base owns the rest of the loop.

A method turns a task spec into labelled records using a ``TextModel``. It yields records in small batches so the
job runner can pass each batch through the privacy gate and commit it to the vault as it goes (resumable jobs).
The shared parts of that loop live here, once: per-label targets, token counting into ``Progress``, the cut and
drop rules with their reasons, record building, de-duplication and the committed batches (``Run``). A method
module registers its class with ``@METHODS.register``; the registry finds every module of this package, so adding
a method is its module and its test.
"""

from __future__ import annotations

import random
import time
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Iterator, Sequence

from appliance.engine.interface import Completion, SamplingParams, TextModel
from appliance.errors import BadInput
from appliance.generate.common import clean_output, split_need
from appliance.generate.options import DECODING, Capabilities, Option
from appliance.generate.postprocess import dedupe
from appliance.generate.records import GeneratedRecord
from appliance.registry import Registry
from appliance.spec import TaskSpec


@dataclass
class Progress:
    """Counts a method reports while it runs (for progress bars and ETA)."""

    accepted: int = 0
    target: int = 0
    tokens: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)  # decoding workers of a cluster job (cluster.pool)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


ProgressFn = Callable[[Progress], None]

# A streamed round reports its token count this often between committed batches (a round's first batch can take a
# minute on a CPU; the job's tokens/s should move meanwhile).
PROGRESS_EVERY_S = 1.0


class Method:
    """A generation method. Subclasses set ``name``, declare ``options`` (their own; a subclass inherits its
    parents') and ``capabilities``, and write ``records``. An instance holds one value per declared option, as
    attributes, checked on construction: a misspelt, misplaced or out-of-range option is a one-line ``BadInput``
    before any work. ``seeds`` and ``redact`` are inputs the service supplies, not options a user types."""

    name: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = DECODING
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, **values: Any) -> None:
        declared = self.declared()
        inputs = {"seeds"} if self.capabilities.needs_seeds else set()
        inputs |= {"redact"} if self.capabilities.shows_seeds else set()
        given = {k: v for k, v in values.items() if v is not None}
        bad = sorted(set(given) - set(declared) - inputs)
        if bad:
            raise BadInput(f"method {self.name} takes no option {', '.join(bad)}")
        for opt in declared.values():
            value = opt.parse(given[opt.name], self.name) if opt.name in given else None
            setattr(self, opt.name, opt.default if value is None else value)
        self.seeds: list[dict[str, Any]] = list(given.get("seeds", []))
        self.redact: Callable[[str], str] | None = given.get("redact")

    @classmethod
    def declared(cls) -> dict[str, Option]:
        """Every option of this method by name: its parents' first, a redeclared name overridden by the child."""
        out: dict[str, Option] = {}
        for klass in reversed(cls.__mro__):
            for opt in vars(klass).get("options", ()):
                out[opt.name] = opt
        return out

    def settings(self) -> dict[str, Any]:
        """The value of every declared option, as the job's configuration stores it."""
        return {name: getattr(self, name) for name in self.declared()}

    def check(self, task: TaskSpec) -> dict[str, Any]:
        """Refuse (``BadInput``) a run that cannot be allowed before it starts; returns figures for the job's
        record (Aug-PE's ε). Most methods have nothing to check."""
        return {}

    def params(self, task: TaskSpec, max_new_tokens: int, seed: int) -> SamplingParams:
        """Sampling for one batch: the option's temperature and top-p, else the task spec's; texts end at a quote."""
        return SamplingParams(
            temperature=self.temperature if self.temperature is not None else task.temperature,  # type: ignore[attr-defined]
            top_p=self.top_p if self.top_p is not None else task.top_p,  # type: ignore[attr-defined]
            max_new_tokens=max_new_tokens,
            min_new_tokens=1,
            stop=('"', "\n"),
            seed=seed,
        )

    def run(
        self, model: TextModel, task: TaskSpec, n: int, *, seed: int = 0, progress: ProgressFn | None = None
    ) -> Iterator[list[GeneratedRecord]]:
        """``n`` records for ``task`` in committed batches; ``progress`` sees the counts after each."""
        yield from self.records(Run(self, model, task, n, seed, progress))

    def records(self, run: "Run") -> Iterator[list[GeneratedRecord]]:
        """The method's own loop: prompts in, parsed records out, through ``run``'s shared steps."""
        raise NotImplementedError


class Run:
    """One run of a method: the per-label targets still open (``need``), the kept texts (for de-duplication), the
    progress counts, a random generator seeded by the run's seed, and the steps every method's loop shares."""

    def __init__(self, method: Method, model: TextModel, task: TaskSpec, n: int, seed: int,
                 progress: ProgressFn | None) -> None:
        self.method, self.model, self.task, self.n, self.seed = method, model, task, n, seed
        self.need = split_need(task.label_ids, n)
        self.rng = random.Random(seed)
        self.seen: set[tuple[str, str, str]] = set()
        self.prog = Progress(target=n)
        self.held: dict[str, list[GeneratedRecord]] = {lab: [] for lab in task.label_ids}  # kept back until the end
        self._progress = progress

    @property
    def batch_size(self) -> int:
        """Prompts per committed batch: small enough that a crash loses little work, large enough to keep every
        slot busy (the method's ``batch_size``, or 4 × the model's parallel slots)."""
        return getattr(self.method, "batch_size", None) or 4 * int(getattr(self.model, "max_parallel", 32))

    def complete(self, prompts: Sequence[str], params: SamplingParams) -> list[Completion]:
        """The model's completions of ``prompts``, their tokens counted."""
        return self.count(self.model.generate(list(prompts), params))

    def complete_chunks(self, prompts: Sequence[str], params: SamplingParams, size: int) -> Iterator[list[Completion]]:
        """The completions of ``prompts`` in chunks of ``size``, in order, their tokens counted as each chunk is
        handed out; prompt ``i`` samples with seed ``params.seed + i`` whatever the chunking. A model that streams
        (``StreamingModel``) gets every prompt in one call, so its slots stay full across chunks instead of draining
        at each chunk's end; any other model gets one ``generate`` per chunk. Either way the outputs are the same."""
        stream = getattr(self.model, "generate_stream", None)
        if not callable(stream):
            for start in range(0, len(prompts), size):
                yield self.complete(prompts[start : start + size], replace(params, seed=params.seed + start))
            return
        done: dict[int, Completion] = {}
        start = 0
        shown = time.monotonic()
        with closing(stream(list(prompts), params)) as results:
            for idx, c in results:
                done[idx] = c
                self.prog.tokens += c.n_tokens  # counted as it ends, so progress moves before the first batch is whole
                if time.monotonic() - shown >= PROGRESS_EVERY_S:
                    self.report()
                    shown = time.monotonic()
                while start < len(prompts) and all(i in done for i in range(start, min(len(prompts), start + size))):
                    end = min(len(prompts), start + size)
                    yield [done.pop(i) for i in range(start, end)]
                    start = end

    def count(self, comps: list[Completion]) -> list[Completion]:
        for c in comps:
            self.prog.tokens += c.n_tokens
        return comps

    def clean(self, c: Completion, context: str = "") -> str | None:
        """The completion's text after the cut and drop rules, or None (counted as ``too_short_or_unfinished``)."""
        text = clean_output(c.raw_text, self.task, context)
        if text is None:
            self.prog.drop("too_short_or_unfinished")
        return text

    def record(self, c: Completion, text: str, label: str, context: str = "",
               attributes: dict[str, str] | None = None, **meta: Any) -> GeneratedRecord:
        """A record of this method with the completion's token count and mean log-probability in its metadata."""
        return GeneratedRecord(
            text=text, label=label, context=context, attributes=attributes or {}, method=self.method.name,
            meta={"n_tokens": c.n_tokens, "mean_logprob": round(c.mean_logprob, 4), **meta},
        )

    def unique(self, rec: GeneratedRecord) -> bool:
        """False (counted as ``duplicate``) when the record repeats a kept (context, text, label)."""
        if dedupe([rec], self.seen):
            return True
        self.prog.drop("duplicate")
        return False

    def keep(self, rec: GeneratedRecord, batch: list[GeneratedRecord]) -> None:
        """Add a record to the batch and count it against its label, unless it is a duplicate."""
        if self.unique(rec):
            self.need[rec.label] -= 1
            batch.append(rec)

    def report(self) -> None:
        if self._progress:
            self._progress(self.prog)

    def emit(self, batch: list[GeneratedRecord]) -> Iterator[list[GeneratedRecord]]:
        """Report progress for a finished batch and yield it (when it holds anything) for the job to commit."""
        self.prog.accepted += len(batch)
        self.report()
        if batch:
            yield batch


METHODS: Registry[type[Method]] = Registry("method", "appliance.generate")

__all__ = ["METHODS", "Method", "Progress", "ProgressFn", "Run"]
