"""What a generation request can name: methods, registered models and shipped policies (for pickers in the TUI and
for listings in the CLI)."""

from __future__ import annotations

from pathlib import Path

from appliance.guard.policy import POLICY_DIR
from appliance.service.models import list_models


def method_names() -> list[str]:
    from appliance.generate import METHODS

    return METHODS.names()


def model_names(home: Path) -> list[str]:
    return [m.name for m in list_models(home)]


def policy_names() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.toml"))


def resumable_jobs(session) -> list[dict]:
    """Jobs that did not succeed (killed, cancelled or failed): what ``resume_job`` can finish."""
    return [j for j in session.vault.list_jobs() if j["status"] != "succeeded"]


def adapter_choices(session) -> list[tuple[str, str]]:
    """DP adapters a job may use, as (label, name): what each was trained on, for which model, at what ε."""
    if not session.can("adapter.list"):
        return []
    return [(f"{a['name']} · ε {a['manifest']['privacy']['epsilon']:.2f} · {a['model']}", a["name"])
            for a in session.vault.list_adapters()]
