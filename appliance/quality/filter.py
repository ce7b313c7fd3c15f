"""A configurable quality filter: drop records by a combination of their scores, and say what was dropped and why.

Rules (each off unless set), checked in this order; a record is dropped by every rule it fails, and counted under
each reason:
  min_words / max_words      length in words
  dedup                      exact duplicate text (after whitespace and case folding); the first copy is kept
  judge_agree                the verbalizer judge (calibrated) must prefer the intended label
  min_margin                 calibrated judge margin of at least this much (log-space)
  max_perplexity             perplexity under the scoring model at most this much
Spec string form (CLI): "judge_agree,max_perplexity=200,min_words=4".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any, Sequence

from appliance.errors import BadInput


@dataclass
class FilterConfig:
    min_words: int | None = None
    max_words: int | None = None
    dedup: bool = False
    judge_agree: bool = False
    min_margin: float | None = None
    max_perplexity: float | None = None

    @classmethod
    def parse(cls, spec: str | None) -> "FilterConfig":
        cfg = cls()
        if not spec:
            return cfg
        types = {f.name: f.type for f in fields(cls)}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, _, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if key not in types:
                raise BadInput(f"quality filter: unknown rule {key!r} (known: {', '.join(types)})")
            t = str(types[key])
            try:
                if "bool" in t:
                    val: Any = value.strip().lower() not in ("0", "false", "no", "off") if value else True
                elif "int" in t:
                    val = int(value)
                else:
                    val = float(value)
            except ValueError:
                raise BadInput(f"quality filter: {key} needs a number, not {value!r}") from None
            setattr(cfg, key, val)
        return cfg

    def active(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


@dataclass
class FilterResult:
    kept: list[int]
    dropped: dict[int, list[str]]  # record index -> reasons
    counts: dict[str, int]
    config: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {"kept": len(self.kept), "dropped": len(self.dropped), "reasons": self.counts, "rules": self.config}


def apply_filter(
    cfg: FilterConfig,
    texts: Sequence[str],
    *,
    margins: Sequence[float] | None = None,
    perplexities: Sequence[float] | None = None,
) -> FilterResult:
    """Which records survive ``cfg``. Judge rules need ``margins``; the perplexity rule needs ``perplexities``."""
    if (cfg.judge_agree or cfg.min_margin is not None) and margins is None:
        raise BadInput("quality filter: the judge rules need the verbalizer judge's margins")
    if cfg.max_perplexity is not None and perplexities is None:
        raise BadInput("quality filter: max_perplexity needs perplexities")
    seen: set[str] = set()
    dropped: dict[int, list[str]] = {}
    for i, t in enumerate(texts):
        why = []
        n = len(t.split())
        if cfg.min_words is not None and n < cfg.min_words:
            why.append("too_short")
        if cfg.max_words is not None and n > cfg.max_words:
            why.append("too_long")
        if cfg.dedup:
            key = " ".join(t.lower().split())
            if key in seen:
                why.append("duplicate")
            seen.add(key)
        if cfg.judge_agree and not margins[i] > 0:
            why.append("judge_disagrees")
        if cfg.min_margin is not None and not margins[i] >= cfg.min_margin:
            why.append("low_margin")
        if cfg.max_perplexity is not None and not perplexities[i] <= cfg.max_perplexity:
            why.append("high_perplexity")
        if why:
            dropped[i] = why
    counts = Counter(r for rs in dropped.values() for r in rs)
    return FilterResult([i for i in range(len(texts)) if i not in dropped], dropped, dict(sorted(counts.items())), cfg.active())
