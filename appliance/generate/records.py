"""The record a generation method produces, before the privacy gate and the vault see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GeneratedRecord:
    text: str
    label: str
    context: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    method: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # n_tokens, mean_logprob, finish_reason, seed
