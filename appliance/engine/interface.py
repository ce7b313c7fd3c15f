"""What the rest of the appliance may ask of a model, as plain data.

Methods above the engine talk to a ``TextModel``: anything with these methods. Today that is ``LocalModel`` in this
process; a pool of workers (for example Ray actors each holding a ``LocalModel``) can serve the same calls, because
every argument and result is a plain, picklable value and no caller relies on shared state between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings. ZeroGen's defaults: nucleus sampling, top-p 0.9, temperature 1.0."""

    temperature: float = 1.0
    top_p: float = 0.9
    top_k: int = 0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    min_new_tokens: int = 0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finish_reason: str  # "stop" (a stop string), "eos" (end of generation token) or "length"
    mean_logprob: float = float("nan")  # mean log-probability of the sampled tokens (for log-prob ranking)
    stop_string: str | None = None  # which stop string ended the text (not included in ``text``)

    @property
    def raw_text(self) -> str:
        """The text as the model wrote it, with the stop string that ended it."""
        return self.text + (self.stop_string or "")


class TextModel(Protocol):
    instruct: bool

    def format_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str: ...

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        *,
        on_token: Callable[[int], None] | None = None,
    ) -> list[Completion]: ...

    def complete(self, prompt: str, params: SamplingParams) -> Completion: ...

    def loglik(self, prompt: str, continuation: str) -> float: ...


class DebiasingModel(TextModel, Protocol):
    """An optional capability: self-debiased decoding (DINO), where each text is decoded under its own prompt
    while counter prompts read the same continuation in parallel sequences. ``LocalModel`` has it; a model that
    cannot decode parallel sequences sharing one continuation does not (check with ``supports_debiasing``)."""

    def next_token_logits_batch(self, prompts: Sequence[str]) -> "np.ndarray":
        """The raw next-token logits after each prompt, one (vocabulary,) row per prompt."""
        ...

    def generate_debiased(
        self,
        groups: Sequence[Sequence[str]],
        params: SamplingParams,
        *,
        decay: float = ...,
        epsilon: float = ...,
        on_token: Callable[[int], None] | None = None,
    ) -> list[Completion]:
        """One completion per group: ``groups[i][0]`` is the prompt the text is written under, ``groups[i][1:]`` its
        counter prompts (the same number in every group). Group ``i`` samples with seed ``params.seed + i``."""
        ...


class StreamingModel(TextModel, Protocol):
    """An optional capability: ``generate`` over many prompts that hands back each completion as it ends, so a
    method can submit a whole round at once (the engine's slots stay full) and still commit records in batches.
    ``LocalModel`` has it; a caller falls back to one ``generate`` per batch for a model without it."""

    def generate_stream(self, prompts: Sequence[str], params: SamplingParams) -> Iterator[tuple[int, Completion]]:
        """``(prompt index, completion)`` as each ends; prompt ``i`` samples with seed ``params.seed + i``."""
        ...


def supports_debiasing(model: object) -> bool:
    """True when ``model`` offers the self-debiasing capability (``DebiasingModel``)."""
    return callable(getattr(model, "generate_debiased", None)) and callable(getattr(model, "next_token_logits_batch", None))
