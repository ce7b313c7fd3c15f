"""The methods' CLI options end to end: seeds come from the vault through its roles; Aug-PE refuses over budget."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TASKS


def run(*args: str, home: Path, pw: Path, user: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home), "APPLIANCE_THREADS": "1"}
    extra = ["--passphrase-file", str(pw)] + (["--user", user] if user else [])
    return subprocess.run([sys.executable, "-m", "appliance", *args, *extra], capture_output=True, text=True, env=env, timeout=600)


def test_seed_set_options_and_privacy_refusal(tmp_path: Path, passphrase_file: Path) -> None:
    from appliance.generate.common import read_seed_file
    from appliance.service.session import Session

    home, pw, task = tmp_path / "home", passphrase_file, str(TASKS / "sst2_sentiment.toml")
    secret = pw.read_text().strip()
    with Session.init(home, "admin", secret) as admin:
        admin.vault.add_user("ana", "author", secret)
        admin.vault.add_user("rev", "reviewer", secret)
    with Session.open(home, "ana", secret) as ana:
        ana.vault.grant("rev")
        ana.vault.import_seeds("sst", read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl"))
    gen = ("generate", "--task", task, "--method", "augpe", "--seed-set", "sst", "--n", "4")
    # ε for σ = 0.5 over 5 rounds is far above 1: refused with exit 2, one line, no job
    r = run(*gen, "--noise-multiplier", "0.5", "--rounds", "5", "--epsilon-budget", "1", home=home, pw=pw, user="ana")
    assert r.returncode == 2 and "exceeds the privacy budget" in r.stderr, r.stderr
    # a reviewer never reads raw seeds, not even through a generation job
    r = run(*gen, home=home, pw=pw, user="rev")
    assert r.returncode == 4 and "permission denied" in r.stderr, r.stderr
    # an option the method does not take is an error, not silently ignored
    r = run("generate", "--task", task, "--method", "zerogen", "--rounds", "3", home=home, pw=pw, user="ana")
    assert r.returncode == 2 and "no option rounds" in r.stderr, r.stderr
    from appliance.vault.store import Vault

    with Vault.open(home, "ana", secret) as v:
        assert v._all("SELECT count(*) FROM jobs")[0][0] == 0
    # The seed set's privacy ledger: with ε = 7.5 of the default budget 8 already spent (say by an adapter), an
    # Aug-PE run (σ = 2, 2 rounds: ε well above the 0.5 left) is refused with exit 2 and leaves no job and no ledger entry.
    with Vault.open(home, "ana", secret) as v:
        v.charge_privacy("sst", "dp-lora", "an earlier adapter", 7.5, 1e-5, 8.0)
    r = run(*gen, "--noise-multiplier", "2", "--rounds", "2", home=home, pw=pw, user="ana")
    assert r.returncode == 2 and "privacy budget exceeded" in r.stderr, r.stderr
    with Vault.open(home, "ana", secret) as v:
        assert v._all("SELECT count(*) FROM jobs")[0][0] == 0
        assert len(v.privacy_spent("sst")["entries"]) == 1


def test_augpe_over_the_ledger_budget_is_refused_before_the_model_loads(tmp_path: Path, passphrase_file: Path,
                                                                        monkeypatch) -> None:
    """The budget check comes before the minutes a model load can take: ``_load`` must never be reached."""
    import pytest

    from appliance.errors import UserError
    from appliance.generate.common import read_seed_file
    from appliance.service import generation
    from appliance.service.session import Session
    from appliance.spec.taskspec import load_task

    secret = passphrase_file.read_text().strip()
    with Session.init(tmp_path / "home", "admin", secret) as admin:
        admin.vault.add_user("ana", "author", secret)
    with Session.open(tmp_path / "home", "ana", secret) as s:
        s.vault.import_seeds("sst", read_seed_file(TASKS / "seeds" / "sst2_sentiment.jsonl"))
        s.vault.charge_privacy("sst", "dp-lora", "an earlier adapter", 7.5, 1e-5, 8.0)
        monkeypatch.setattr(generation, "_load", lambda *a, **k: pytest.fail("the model was loaded"))
        req = generation.GenerationRequest(task=load_task(TASKS / "sst2_sentiment.toml"), n=4, method="augpe",
                                           seed_set="sst", method_options={"noise_multiplier": 2, "rounds": 2})
        with pytest.raises(UserError, match="privacy budget exceeded"):
            generation.run_generation(s, tmp_path / "home", req)
        assert len(s.vault.privacy_spent("sst")["entries"]) == 1 and s.vault._all("SELECT count(*) FROM jobs")[0][0] == 0
    with Session.open(tmp_path / "home", "admin", secret) as admin:
        refusals = [e for e in admin.vault.audit_entries(action="access.denied")
                    if e["params"].get("permission") == "ledger.charge" and "over budget" in e["params"].get("reason", "")]
    assert len(refusals) == 1, refusals  # audited once, by the check before the model
