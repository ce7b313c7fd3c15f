"""Quality, Help and Home under Pilot: a job's stored report (metrics, label counts, evaluation rows and the
accuracy-vs-size curve drawn with plotext), saving its HTML to a file, the help screen, and Home's summary."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select, Static

from appliance.vault import Vault
from tests.conftest import TASKS
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES

REPORT = {
    "job_id": None, "task": "sst2_sentiment", "method": "zerogen",
    "metrics": {"n_records": 2, "label_counts": {"positive": 1, "negative": 1},
                "diversity": {"distinct_1": 0.81, "distinct_2": 0.97, "self_bleu_4": 0.05, "vocabulary": 9},
                "correctness": {"agreement": 0.5}, "naturalness": {"perplexity": {"median": 41.5}}},
    "evaluation": {
        "rows": [{"task_model": "tfidf-logreg", "method": "zerogen", "n_train": 2, "accuracy": 0.61, "macro_f1": 0.6}],
        "curve": [{"task_model": "tfidf-logreg", "n_train": n, "accuracy": a} for n, a in ((1, 0.5), (2, 0.61))],
    },
}


def _job_with_report(home: Path) -> int:
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        task_id = v.add_task("sst2_sentiment", (TASKS / "sst2_sentiment.toml").read_text(encoding="utf-8"))
        job_id = v.create_job(task_id, "zerogen", {"request": {"n": 2}})
        v.add_records(job_id, [{"text": "A fine film.", "label": "positive"},
                               {"text": "A dull film.", "label": "negative"}], unit=1)
        v.finish_job(job_id, "succeeded", {})
        v.add_report(job_id, "quality", REPORT | {"job_id": job_id})
        v.add_report(job_id, "quality_html", {"html": "<html><body>report</body></html>"})
    return job_id


def test_quality_screen_shows_the_report_and_saves_html(home: Path, tmp_path: Path) -> None:
    job_id = _job_with_report(home)
    target = tmp_path / "report.html"

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f7")
        d.q("#quality-job", Select).value = job_id
        await d.settle()
        summary = str(d.q("#quality-summary", Static).render())
        assert f"job {job_id}" in summary and "Self-BLEU-4 0.050" in summary and "50.0%" in summary
        assert d.q("#label-counts", DataTable).row_count == 2
        assert d.q("#eval-table", DataTable).row_count == 1
        assert d.q("#size-curve").display  # the curve is drawn when the evaluation has one
        d.q("#html-path", Input).value = str(target)
        await d.click("#save-html")
        await d.pilot.pause()
        assert not d.errors(), d.notes

        await d.go("f1")
        assert "Help" in str(d.app.screen.title or "") or d.app.screen.__class__.__name__ == "HelpScreen"
        await d.pilot.press("escape")
        await d.pilot.pause()
        await d.go("f2")
        assert d.app.screen.__class__.__name__ == "HomeScreen"

    drive(home, scenario)
    assert target.read_text(encoding="utf-8") == "<html><body>report</body></html>"
