"""Model-based metrics on the real embedded model, and `appliance evaluate` / `appliance report` end to end."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.quality import naturalness, prompting
from appliance.quality.scoring import score_continuations
from tests.conftest import PASSPHRASE, TASKS

pytestmark = pytest.mark.model

POS = ["A warm, funny and beautifully acted film.", "The best movie I have seen this year, a joy from start to end.",
       "Brilliant direction and a moving story.", "I loved every minute of this charming comedy.",
       "A gorgeous, heartfelt triumph.", "The cast is wonderful and the script is sharp and witty.",
       "An exciting adventure that the whole family will enjoy.", "A touching and delightful movie.",
       "Smart, stylish and great fun.", "The soundtrack is superb and the acting is excellent.",
       "A masterpiece of quiet emotion.", "Fresh, clever and full of life."]
NEG = ["A dull, lifeless film with no reason to exist.", "The worst movie I have seen this year, a chore to sit through.",
       "Clumsy direction and a boring story.", "I hated every minute of this unfunny comedy.",
       "An ugly, empty failure.", "The cast is wasted and the script is flat and stupid.",
       "A tedious mess that nobody will enjoy.", "A cold and annoying movie.",
       "Stupid, sloppy and no fun at all.", "The soundtrack is awful and the acting is terrible.",
       "A disaster of wooden performances.", "Stale, lazy and completely lifeless."]


def test_batched_scores_equal_engine_loglik(smol) -> None:
    prompts = ["The film was wonderful. It was", "Question: is the sky blue?\nAnswer:"]
    conts = [" great", " terrible", " yes it is"]
    m = score_continuations(smol, prompts, conts)
    want = [[smol.loglik(p, c) for c in conts] for p in prompts]
    assert m == pytest.approx(np.array(want), abs=1e-3)


def test_perplexity_is_exp_of_mean_negative_engine_loglik(smol) -> None:
    texts = ["The cat sat on the mat.", "A dull, lifeless film with no reason to exist.", "zqx vbn wrt"]
    for t in texts:
        _, lps = smol.loglik_tokens(naturalness.PREFIX, t)
        assert naturalness.perplexity(smol, t) == pytest.approx(math.exp(-np.mean(lps)), rel=1e-9)
    batched = naturalness.perplexities(smol, texts)
    for t, p in zip(texts, batched):
        _, lps = smol.loglik_tokens(naturalness.PREFIX, t)
        assert p == pytest.approx(math.exp(-np.mean(lps)), rel=1e-3)
    assert batched[0] < batched[2]  # plain English is more natural than noise


def test_prompting_on_the_real_model_takes_the_argmax_of_verbalizer_logliks(smol) -> None:
    from appliance.spec import load_task

    task = load_task(TASKS / "sst2_sentiment.toml")
    texts = [POS[0], NEG[0]]
    res = prompting.run_prompting(smol, task, texts)
    for i, t in enumerate(texts):
        p = prompting.judge_prompt(smol, task, t)
        by_label = [np.logaddexp.reduce([smol.loglik(p, " " + v) for v in lab.verbalizers]) for lab in task.labels]
        assert res.scores[i] == pytest.approx(by_label, abs=1e-3)
        assert res.predictions[i] == task.labels[int(np.argmax(by_label))].id
    cf = [prompting.label_scores(smol, task, [x])[0] for x in prompting.CONTENT_FREE]
    assert res.content_free == pytest.approx(np.mean(cf, axis=0), abs=1e-6)


def _run(*args: str, home: Path, pw: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home), "APPLIANCE_THREADS": os.environ.get("APPLIANCE_THREADS", "1")}
    return subprocess.run([sys.executable, "-m", "appliance", *args, "--user", "alice", "--passphrase-file", str(pw)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_evaluate_and_report_from_the_cli(tmp_path: Path, passphrase_file: Path) -> None:
    from appliance.vault import Vault
    from appliance.vault.keys import KdfParams

    home = tmp_path / "home"
    fast = KdfParams(memory_kib=1024, iterations=1, lanes=1)
    with Vault.create(home, "root", PASSPHRASE, kdf_params=fast) as v:
        v.add_user("alice", "author", PASSPHRASE)
    with Vault.open(home, "alice", PASSPHRASE) as v:
        task_id = v.add_task("sst2_sentiment", (TASKS / "sst2_sentiment.toml").read_text())
        job = v.create_job(task_id, "handwritten", {"model": "smollm2-135m-instruct"})
        rows = [{"text": t, "label": "positive", "attributes": {"aspect": "acting"}} for t in POS]
        rows += [{"text": t, "label": "negative", "attributes": {"aspect": "plot"}} for t in NEG]
        v.add_records(job, rows)
        v.finish_job(job, "succeeded", {})
    real = tmp_path / "real.tsv"  # GLUE style: 0/1 labels, a bare quote that must not start a quoted field
    real.write_text("sentence\tlabel\n" + "".join(
        f"{t}\t{y}\n" for t, y in [("a wonderful , moving film", 1), ("\"dull\" and boring", 0), ("great fun", 1),
                                   ("an awful mess", 0), ("charming and witty", 1), ("lifeless and stupid", 0)]))
    r = _run("evaluate", str(job), "--real", str(real), "--text-column", "sentence", "--label-column", "label",
             "--task-models", "tfidf_lr,mlp,mlp_sungen", "--json", str(tmp_path / "ev.json"), home=home, pw=passphrase_file)
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / "ev.json").read_text())
    names = [x["task_model"] for x in ev["rows"]]
    assert names == ["tfidf_lr", "mlp", "mlp_sungen", "prompting", "prompting_calibrated"]
    assert ev["n_real"] == 6 and all(0 <= x["accuracy"] <= 1 for x in ev["rows"])
    assert sorted({x["n_train"] for x in ev["curve"]}) == [2, 6, 12, 24]
    assert "prompting_calibrated" in r.stdout and "real file not stored" in r.stdout

    html = tmp_path / "report.html"
    r = _run("report", str(job), "--html", str(html), "--json", str(tmp_path / "r.json"), "--filter", "judge_agree,dedup",
             home=home, pw=passphrase_file)
    assert r.returncode == 0, r.stderr
    assert "Self-BLEU" in r.stdout and "verbalizer judge" in r.stdout and "perplexity" in r.stdout
    page = html.read_text()
    assert page.count("data:image/png;base64,") >= 5 and "<script" not in page and "http" not in page
    assert not any(t in page for t in POS + NEG)  # aggregates only
    body = json.loads((tmp_path / "r.json").read_text())
    assert body["evaluation"]["rows"][0]["task_model"] == "tfidf_lr"  # the stored evaluation is attached
    assert body["metrics"]["filter"]["kept"] + body["metrics"]["filter"]["dropped"] == 24
    with Vault.open(home, "alice", PASSPHRASE) as v:
        kinds = [x["kind"] for x in v.list_reports(job)]
        assert kinds == ["evaluation", "quality", "quality_html"]
        assert v.get_report(v.list_reports(job, "quality_html")[0]["id"])["body"]["html"] == page
        assert v.list_seed_sets() == []  # the real file was not imported as seeds

    r = _run("evaluate", str(job), "--real", str(real), "--text-column", "nope", "--label-column", "label", home=home, pw=passphrase_file)
    assert r.returncode == 2 and "missing column 'nope'" in r.stderr
