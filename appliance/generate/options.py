"""What a generation method declares about itself: its options and its capabilities.

An option is declared once (name, type, default, help, bounds or choices) and everything else is built from it:
the CLI flags of ``appliance generate``, the fields of the TUI's Generate screen, the validation of a request
before any work, and the job's stored configuration. Capabilities tell the service what a method needs (seeds,
several parallel sequences) and what it does (spends privacy budget, fills attribute placeholders), so no caller
has to reflect on a method's fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from appliance.errors import BadInput


@dataclass(frozen=True)
class Option:
    """One setting a user may give a method. ``default`` None means "decided at run time" (the help says by what);
    ``minimum``/``maximum`` are inclusive bounds for numbers; ``choices`` restricts a value to a fixed set."""

    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: Sequence[Any] | None = None

    @property
    def flag(self) -> str:
        """The command-line flag: ``noise_multiplier`` → ``--noise-multiplier``."""
        return "--" + self.name.replace("_", "-")

    def parse(self, value: Any, method: str) -> Any:
        """``value`` (typed, or as text from a form) checked against the declaration; a one-line ``BadInput``
        naming the method and the option otherwise."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        kind = "an integer" if self.type is int else "a number" if self.type is float else f"a {self.type.__name__}"
        try:
            if isinstance(value, bool) or (self.type is int and isinstance(value, float)):
                raise ValueError
            if isinstance(value, str) and self.type in (int, float):
                value = self.type(value.strip())
            elif self.type is float and isinstance(value, int):
                value = float(value)
            if not isinstance(value, self.type) or (self.type is float and not math.isfinite(value)):
                raise ValueError
        except (ValueError, OverflowError):
            raise BadInput(f"method {method}: option {self.name} must be {kind}, not {value!r}") from None
        if self.minimum is not None and value < self.minimum:
            raise BadInput(f"method {method}: option {self.name} must be at least {self.minimum:g}, not {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise BadInput(f"method {method}: option {self.name} must be at most {self.maximum:g}, not {value!r}")
        if self.choices is not None and value not in self.choices:
            shown = ", ".join(map(str, self.choices))
            raise BadInput(f"method {method}: option {self.name} must be one of {shown}, not {value!r}")
        return value


@dataclass(frozen=True)
class Capabilities:
    """What a method needs and does, for the service, CLI and TUI to act on without knowing the method."""

    needs_seeds: bool = False  # reads private seed records (a seed set must be chosen)
    shows_seeds: bool = False  # puts seeds into prompts (the policy's anonymizer redacts them first)
    spends_privacy: bool = False  # differentially private: charges ε to the seed set's budget
    needs_slots: bool = False  # decodes several parallel sequences per text (one per label)
    debiases: bool = False  # needs self-debiased decoding (DebiasingModel), which only a model in this process has
    fills_attributes: bool = False  # label prompts may name task attributes as {NAME}
    uses_label_prompts: bool = True  # its prompts are the task's label prompts (False: built from seeds)


# Every method samples; these two are declared once, here, for all of them.
DECODING = (
    Option("temperature", float, None, "sampling temperature (default: the task spec's)", minimum=0.0, maximum=5.0),
    Option("top_p", float, None, "nucleus sampling top-p (default: the task spec's)", minimum=0.0, maximum=1.0),
)

__all__ = ["Capabilities", "DECODING", "Option"]
