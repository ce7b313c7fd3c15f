"""The policy reaches the methods: seeds are anonymized before they enter prompts unless the policy allows raw
seeds, and the policy's ε per seed set caps a DP method's budget."""

from __future__ import annotations

import pytest

from appliance.errors import UserError
from appliance.guard.policy import load_policy
from appliance.service.methods import build_method
from appliance.spec import load_task
from tests.conftest import TASKS

SEEDS = [
    {"id": 1, "text": "Mr. Tobias Renwick, MRN 4471-2290, reports chest pressure on exertion.", "label": "cardiovascular_pulmonary"},
    {"id": 2, "text": "Knee pain after a fall; call (555) 318-2207 with MRI results.", "label": "orthopedic"},
]


def test_strict_policy_redacts_seeds_for_prompts(scanner) -> None:
    task = load_task(TASKS / "medical_specialty.toml")
    method, _ = build_method(None, "fewgen", task, {"seeds": SEEDS}, policy=load_policy("hipaa-safe-harbor"))
    assert method.redact is not None
    shown = method.redact(SEEDS[0]["text"]) + " " + method.redact(SEEDS[1]["text"])
    assert "Renwick" not in shown and "4471-2290" not in shown and "318-2207" not in shown
    assert "chest pressure" in shown


def test_default_policy_allows_raw_seeds() -> None:
    task = load_task(TASKS / "medical_specialty.toml")
    method, _ = build_method(None, "fewgen", task, {"seeds": SEEDS}, policy=load_policy("default"))
    assert method.redact is None


def test_policy_epsilon_caps_the_budget(tmp_path) -> None:
    text = (TASKS.parent / "policies" / "default.toml").read_text()
    strict = tmp_path / "p.toml"
    strict.write_text(text.replace("required = false", "required = true\nepsilon_per_seed_set = 2.0\ndelta = 1e-5"))
    task = load_task(TASKS / "sst2_sentiment.toml")
    seeds = [{"id": i, "text": f"a {'fine' if i % 2 else 'dull'} film number {i}", "label": "positive" if i % 2 else "negative"}
             for i in range(40)]
    policy = load_policy(str(strict))
    opts = {"epsilon_budget": 8.0, "seeds": seeds, "noise_multiplier": 2.0, "rounds": 3}
    with pytest.raises(UserError, match="exceeds the privacy budget ε ≤ 2.0"):  # ε ≈ 2.05: fine for 8, not for 2
        build_method(None, "augpe", task, opts, policy=policy)
    method, report = build_method(None, "augpe", task, {**opts, "noise_multiplier": 4.0}, policy=policy)
    assert method.epsilon_budget == 2.0 and report["epsilon"] <= 2.0
