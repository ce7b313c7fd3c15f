"""Policies: the three shipped files load; a bad file is one line naming the field (exit 2 from the CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.errors import UserError
from appliance.guard.policy import load_policy, parse_policy

REPO = Path(__file__).resolve().parents[2]
GOOD = (REPO / "policies" / "default.toml").read_text()


def test_shipped_policies_load_and_differ() -> None:
    pols = {n: load_policy(n) for n in ("default", "hipaa-safe-harbor", "ferpa")}
    assert len({p.sha256 for p in pols.values()}) == 3
    hipaa, ferpa, default = pols["hipaa-safe-harbor"], pols["ferpa"], pols["default"]
    assert {"PERSON", "MEDICAL_RECORD_NUMBER", "AGE_OVER_89", "FACILITY", "VEHICLE_ID", "DEVICE_ID"} <= hipaa.block
    assert {"STUDENT_ID", "SCHOOL", "STUDENT_GRADE"} <= ferpa.block
    assert not hipaa.allow_degraded and not ferpa.allow_degraded and default.allow_degraded
    assert hipaa.dp_required and hipaa.dp_epsilon_per_seed_set and hipaa.dp_delta
    assert all(p.max_shared_tokens == 8 for p in pols.values())
    assert load_policy(REPO / "policies" / "ferpa.toml").sha256 == ferpa.sha256


@pytest.mark.parametrize("edit,field", [
    (("max_shared_tokens = 8", 'max_shared_tokens = "8"'), "memorization.max_shared_tokens"),
    (("max_shared_tokens = 8", "max_shared_tokens = 1"), "memorization.max_shared_tokens"),
    (("score_threshold = 0.5", "score_threshold = 1.5"), "pii.score_threshold"),
    (('"EMAIL_ADDRESS", "PHONE', '"EMAIL_ADRESS", "PHONE'), "pii.block"),
    (('redact = ["PERSON", "PERSON_DATE"', 'redact = ["EMAIL_ADDRESS", "PERSON_DATE"'), "pii.redact"),
    (("[canaries]", "[canaries]\ncolour = 1"), "canaries.colour"),
    (('name = "default"', "nam = 1"), "policy.nam"),
    (("required = false", "required = true"), "dp.epsilon_per_seed_set"),
    (("allow_degraded = true", 'allow_degraded = "yes"'), "nlp.allow_degraded"),
])
def test_bad_policy_names_the_field(edit: tuple[str, str], field: str) -> None:
    assert edit[0] in GOOD
    with pytest.raises(UserError) as e:
        parse_policy(GOOD.replace(edit[0], edit[1], 1).encode(), "t")
    msg = str(e.value)
    assert field in msg and "\n" not in msg, msg


def test_cli_bad_policy_exit_2_one_line_nothing_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("near_duplicate_jaccard = 0.35", "near_duplicate_jaccard = 2.0"))
    home = tmp_path / "home"
    env = {**os.environ, "APPLIANCE_HOME": str(home)}
    for args in (["generate", "--task", str(REPO / "tasks" / "sst2_sentiment.toml"), "--user", "x", "--policy", str(bad)],
                 ["demo", "--policy", "no-such-policy"]):
        r = subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True, env=env, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "near_duplicate_jaccard" in lines[0] or "unknown policy no-such-policy" in lines[0]
    assert not home.exists()
