"""Label phrases in prompts: words the generator is likely to copy into the text it writes.

A label's phrases are its description and its verbalizers. A label prompt that spells one of them out ("Write a note
about a patient with a cancer or a tumor") gets it back verbatim in many records; a task model then learns the
phrase instead of the class, and scores well on synthetic data and badly on real data. ``prompt_warnings`` names each
such phrase so the spec check can warn; ``phrase_pattern`` is the one matcher, shared with the measure of leaked
records (``appliance.quality.labelleak``): case-insensitive, whole words, any run of spaces between words.
"""

from __future__ import annotations

import re
from typing import Sequence

from appliance.spec.taskspec import Label, TaskSpec, fill_prompt, placeholders


def label_phrases(label: Label) -> list[str]:
    """The phrases that name ``label``: its description (when it is more than the id) and its verbalizers."""
    phrases = [label.description] if label.description.strip() and label.description != label.id else []
    return [p for p in dict.fromkeys([*phrases, *label.verbalizers]) if p.strip()]


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """One regex matching any of ``phrases`` as whole words, ignoring case and how much space separates words."""
    alts = sorted({r"\s+".join(re.escape(w) for w in p.split()) for p in phrases if p.split()}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE) if alts else re.compile(r"(?!)")


def prompt_warnings(spec: TaskSpec) -> list[str]:
    """One line per label prompt that spells out its own label's description or a verbalizer (field and phrase)."""
    out = []
    for lab in spec.labels:
        literal = fill_prompt(lab.prompt, {name: " " for name in placeholders(lab.prompt)})  # the words as written
        found = [m.group(0) for m in phrase_pattern(label_phrases(lab)).finditer(literal)]
        if found:
            shown = list(dict.fromkeys(" ".join(f.lower().split()) for f in found))  # one line, whatever the spacing
            kinds = ["description" if f == " ".join(lab.description.lower().split()) else "verbalizer" for f in shown]
            what = " and ".join(dict.fromkeys(k + ("s" if kinds.count(k) > 1 else "") for k in kinds))
            out.append(f"labels.{lab.id}.prompt: spells out the label's {what} "
                       f"{', '.join(repr(f) for f in shown)}, which the model is likely to copy into the text "
                       "(say what the text is about in other words)")
    return out


__all__ = ["label_phrases", "phrase_pattern", "prompt_warnings"]
