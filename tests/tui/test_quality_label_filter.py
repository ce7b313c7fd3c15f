"""The Quality screen offers the task models and the label filters: an evaluation run from it trains the chosen
models after the chosen filter, marks the removed records 'filtered' and shows each model's accuracy without and
with the filter."""

from __future__ import annotations

import functools
from pathlib import Path

from textual.widgets import DataTable, Input, Select, SelectionList, Static

from appliance.quality.labelfilters import label_filter_names
from appliance.quality.taskmodels import task_model_names
from appliance.service import quality as quality_service
from appliance.vault import Vault
from tests.conftest import TASKS
from tests.quality.filter_data import planted_set
from tests.tui.conftest import drive
from tests.vault.vault_helpers import PASSPHRASES


def _planted_job(home: Path) -> int:
    texts, labels, _ = planted_set(200)
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        task_id = v.add_task("sst2_sentiment", (TASKS / "sst2_sentiment.toml").read_text(encoding="utf-8"))
        job_id = v.create_job(task_id, "zerogen", {"request": {"n": 200}})
        v.add_records(job_id, [{"text": t, "label": lab} for t, lab in zip(texts, labels)], unit=1)
        v.finish_job(job_id, "succeeded", {})
    return job_id


def test_evaluate_from_the_quality_screen_with_a_task_model_and_a_label_filter(home: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    job_id = _planted_job(home)
    real = tmp_path / "real.csv"
    real.write_text("text,label\na wonderful film,positive\na dull film,negative\ncharming,positive\nawful,negative\n")
    # PROMPTING (the generator classifying the real texts) is the CLI's business; here only the choices are tested
    monkeypatch.setattr(quality_service, "evaluate_job", functools.partial(quality_service.evaluate_job, prompting=False))

    async def scenario(d) -> None:
        await d.sign_in("alice")
        await d.go("f7")
        models = d.q("#task-models", SelectionList)
        assert list(models.selected) == task_model_names()  # every task model, unless the user narrows it
        offered = [models.get_option_at_index(i).value for i in range(models.option_count)]
        assert offered == task_model_names(every=True)  # the slow ones too (minilm_ft), unticked
        assert [o[1] for o in d.q("#label-filter", Select)._options[1:]] == label_filter_names()
        d.q("#quality-job", Select).value = job_id
        await d.settle()
        models.deselect_all()
        models.select("tfidf_lr")
        d.q("#label-filter", Select).value = "cleanlab"
        for field, value in (("#real-path", str(real)), ("#real-text", "text"), ("#real-label", "label")):
            d.q(field, Input).value = value
        await d.click("#evaluate")
        await d.settle()
        assert not d.errors(), d.notes
        summary = str(d.q("#quality-summary", Static).render())
        assert "label filter cleanlab: removed 5 of 200" in summary and "tfidf_lr: accuracy" in summary
        assert d.q("#eval-table", DataTable).row_count == 1

    drive(home, scenario)
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        assert v.count_records(job_id, "filtered") == 5
