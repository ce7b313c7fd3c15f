"""What the rest of the appliance may ask of a model, as plain data.

Methods above the engine talk to a ``TextModel``: anything with these methods. Today that is ``LocalModel`` in this
process; a pool of workers (for example Ray actors each holding a ``LocalModel``) can serve the same calls, because
every argument and result is a plain, picklable value and no caller relies on shared state between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence


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
