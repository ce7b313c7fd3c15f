"""JSON Lines: one object per record, keys sorted, attributes as an object."""

from __future__ import annotations

import json
from pathlib import Path

from appliance.export.formats import FORMATS, ExportFormat, Rows


def write_jsonl(rows: Rows, out: Path) -> list[str]:
    with (out / "data.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            obj = {"record_id": int(r["record_id"]), "text": r["text"], "label": r.get("label"), "attributes": r.get("attributes") or {}}
            f.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    return ["data.jsonl"]


FORMATS.register(ExportFormat("jsonl", "JSON Lines, one record per line", write_jsonl))
