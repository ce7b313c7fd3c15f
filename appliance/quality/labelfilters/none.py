"""``none``: remove nothing. Chosen in ``evaluate``, it puts every record an earlier filter took out back into the
training set (and the export)."""

from __future__ import annotations

from appliance.quality.labelfilters import LABEL_FILTERS, FilterData, LabelFilter


def _nothing(data: FilterData) -> dict[int, str]:
    return {}


LABEL_FILTERS.register(LabelFilter("none", "keep every record (undoes an earlier filter)", _nothing, rank=0))
