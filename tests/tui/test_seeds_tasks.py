"""Seeds and tasks (author): a seed file with a bad row is refused with the row named, a good one is imported;
a task form is checked as you type and saved into the vault."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, Select, Static, TextArea

from appliance.spec import parse_task
from appliance.vault import Vault
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_names_the_bad_row_then_imports(home: Path, tmp_path: Path) -> None:
    rows = [{"text": "A lovely, patient film.", "label": "positive"},
            {"text": "Dull and far too long.", "label": "negative"},
            {"text": "Great cast, great score.", "label": "brilliant"}]  # row 3: not a label of the task
    bad = _write_jsonl(tmp_path / "reviews.jsonl", rows)
    good = _write_jsonl(tmp_path / "good.jsonl", rows[:2])

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f3")
        d.q("#seed-path", Input).value = str(bad)
        await d.click("#preview")
        await d.settle()
        assert d.q("#seed-preview").row_count == 3
        assert d.q("#text-col", Select).value == "text" and d.q("#label-col", Select).value == "label"
        d.q("#seed-task", Select).value = "example:sst2_sentiment"
        await d.click("#check")
        await d.settle()
        message = str(d.q("#seed-errors", Static).render())
        assert "row 3" in message and "unknown label 'brilliant'" in message
        await d.click("#import")
        await d.settle()
        assert "row 3" in str(d.q("#seed-errors", Static).render())
        assert d.q("#seed-sets").row_count == 0  # nothing half-written

        d.q("#seed-path", Input).value = str(good)
        d.q("#seed-set", Input).value = "good"
        await d.click("#preview")
        await d.settle()
        d.q("#seed-task", Select).value = "example:sst2_sentiment"
        await d.click("#import")
        await d.settle()
        assert "imported 2 seed records into seed set 'good'" in str(d.q("#seed-errors", Static).render())
        assert d.q("#seed-sets").row_count == 1

    drive(home, scenario)


def test_create_task_with_validation_as_you_type(home: Path) -> None:
    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f4")
        status = d.q("#task-status", Static)
        assert "✗" in str(status.render())  # an empty form names its first missing field
        d.q("#example", Select).value = "sst2_sentiment"
        await d.click("#load")
        await d.pilot.pause()
        assert "✓ valid: sst2_sentiment, 2 labels" in str(status.render())
        d.q("#name", Input).value = "film_reviews"
        labels = d.q("#labels", TextArea)
        labels.text = labels.text.replace("{context}", "it", 1)  # break the first label's prompt
        await d.pilot.pause()
        assert "labels.positive.prompt: must contain {context}" in str(status.render())
        await d.pilot.press("ctrl+s")
        await d.pilot.pause()
        assert any("has a problem" in m for m in d.errors())
        labels.text = labels.text.replace("movie it", "movie {context}", 1)
        await d.pilot.pause()
        assert "✓ valid: film_reviews" in str(status.render())
        # Settings the spec holds beyond labels: a label's own attribute values, word limits, stop rules.
        d.q("#attributes", TextArea).text = "length: one line, two lines\nlength[negative]: one blunt line"
        d.q("#stop-strings", Input).value = '["\\n", '  # not yet a JSON list
        await d.pilot.pause()
        assert "stop strings: write a JSON list of strings" in str(status.render())
        d.q("#stop-strings", Input).value = '["\\n", "\\""]'
        d.q("#max-new-tokens", Input).value = "many"
        await d.pilot.pause()
        assert "max new tokens: write a whole number" in str(status.render())
        d.q("#max-new-tokens", Input).value = "48"
        d.q("#max-words", Input).value = "40"
        await d.pilot.pause()
        assert "✓ valid: film_reviews" in str(status.render())
        await d.pilot.press("ctrl+s")
        await d.pilot.pause()
        assert d.q("#task-list").row_count == 1

    drive(home, scenario)
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        task = v.find_task("film_reviews")
    assert task is not None and "{context}" in task["spec_toml"]
    spec = parse_task(task["spec_toml"], origin="test")
    (length,) = spec.attributes
    assert length.values == ("one line", "two lines") and length.values_for("negative") == ("one blunt line",)
    assert spec.stop_strings == ("\n", '"') and spec.max_new_tokens == 48 and spec.max_words == 40
