"""``judge``: the generator's own calibrated verbalizer judge (``appliance.quality.correctness``) disagrees with the
intended label: after calibration, another label's verbalizers score higher than the intended label's."""

from __future__ import annotations

from appliance.quality.labelfilters import LABEL_FILTERS, FilterData, LabelFilter


def _disagreements(data: FilterData) -> dict[int, str]:
    assert data.judge_margins is not None and data.judge_predicted is not None
    return {i: f"judge prefers {p}" for i, p in enumerate(data.judge_predicted) if p != data.labels[i]}


LABEL_FILTERS.register(LabelFilter("judge", "the generator's calibrated verbalizer judge prefers another label",
                                   _disagreements, needs=frozenset({"judge"}), rank=20))
