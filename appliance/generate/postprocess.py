"""ZeroGen's output rules, as in the paper's code.

Prompts end with an opening quote, so a well-formed output ends at the closing quote. Cut each output at the first
closing quote, else at the first newline, else after the last full stop; drop outputs with none of these, with
fewer than the minimum number of words, or equal to their context; remove exact duplicates of (context, text, label).
"""

from __future__ import annotations

from typing import Iterable

from appliance.generate.records import GeneratedRecord


def cut_output(raw: str) -> str | None:
    """The usable part of a raw model output, or None when it has no closing quote, newline or full stop."""
    q = raw.find('"')
    if q >= 0:
        out = raw[:q]
    else:
        nl = raw.find("\n")
        if nl >= 0:
            out = raw[:nl]
        else:
            dot = raw.rfind(".")
            if dot < 0:
                return None
            out = raw[: dot + 1]
    out = out.strip()
    return out or None


def word_count(text: str) -> int:
    return len(text.split())


def keep_text(text: str | None, context: str, min_words: int, max_words: int | None = None) -> bool:
    """ZeroGen's drop rules for one cut output."""
    if text is None or word_count(text) < min_words:
        return False
    if max_words is not None and word_count(text) > max_words:
        return False
    return text.strip().lower() != context.strip().lower()


def dedupe(records: Iterable[GeneratedRecord], seen: set[tuple[str, str, str]] | None = None) -> list[GeneratedRecord]:
    """Drop exact duplicates of (context, text, label), also against ``seen`` (updated in place)."""
    seen = set() if seen is None else seen
    out = []
    for r in records:
        key = (r.context, r.text, r.label)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
