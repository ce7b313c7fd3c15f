"""Privacy policies: which PII blocks or is redacted, memorization limits, approval and DP requirements.

A policy is a TOML file (``policies/NAME.toml`` or any path). Every problem is one ``UserError`` line naming the
field, so a compliance officer can fix the file without reading a traceback. The sha256 of the file's bytes is
recorded with every gate decision, so an auditor can tell exactly which rules a record passed.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import BadInput, UserError
from appliance.shipped import shipped_path
from appliance.tomlfields import Fields

POLICY_DIR = shipped_path("policies")

_SCHEMA: dict[str, set[str]] = {
    "": {"policy", "pii", "memorization", "canaries", "export", "prompts", "dp", "nlp"},
    "policy": {"name", "description"},
    "pii": {"block", "redact", "score_threshold", "thresholds"},
    "memorization": {"max_shared_tokens", "near_duplicate_jaccard", "shingle_tokens", "min_shingles"},
    "canaries": {"block"},
    "export": {"requires_approval", "reviewer_predates_job"},
    "prompts": {"raw_seeds_allowed"},
    "dp": {"required", "epsilon_per_seed_set", "delta"},
    "nlp": {"allow_degraded"},
}


@dataclass(frozen=True)
class Policy:
    """A validated policy. ``sha256`` identifies the exact file the gate enforced."""

    name: str
    description: str
    sha256: str
    source: str
    block: frozenset[str]
    redact: frozenset[str]
    score_threshold: float
    thresholds: dict[str, float] = field(default_factory=dict)
    max_shared_tokens: int = 8
    near_duplicate_jaccard: float = 0.35
    shingle_tokens: int = 2
    min_shingles: int = 5
    block_canaries: bool = True
    export_requires_approval: bool = True
    # The approving reviewer must have been a user before the job started: an admin cannot create an approver for a
    # job already in the vault.
    export_reviewer_predates_job: bool = False
    raw_seeds_in_prompts: bool = False
    dp_required: bool = False
    dp_epsilon_per_seed_set: float | None = None
    dp_delta: float | None = None
    allow_degraded: bool = False

    @property
    def entities(self) -> frozenset[str]:
        """Every entity the scan must look for (blocked or redacted)."""
        return self.block | self.redact

    def describe(self) -> dict[str, Any]:
        """What a job records about the policy it ran under."""
        return {"name": self.name, "sha256": self.sha256, "source": self.source}


_F = Fields("policy")
_fail, _get = _F.fail, _F.get


def _unit(value: float, name: str, *, open_low: bool = False) -> float:
    if not (0.0 < value <= 1.0 if open_low else 0.0 <= value <= 1.0):
        raise _fail(name, f"must be in {'(0' if open_low else '[0'}, 1], not {value}")
    return value


def _known_entities() -> frozenset[str]:
    """What the gate's recognizers report (derived from their declarations; importing them loads Presidio, so only
    when a policy names an entity)."""
    from appliance.guard.recognizers import known_entities

    return known_entities()


def _entities(table: dict[str, Any], key: str) -> frozenset[str]:
    values = _get(table, key, "pii", list, [])
    for v in values:
        if not isinstance(v, str):
            raise _fail(f"pii.{key}", f"entries must be strings, not {v!r}")
        if v not in _known_entities():
            raise _fail(f"pii.{key}", f"unknown entity {v!r}")
    return frozenset(values)


def resolve_policy_path(name_or_path: str | Path) -> Path:
    """``default`` → ``policies/default.toml``; anything with a slash or a .toml suffix is a path."""
    s = str(name_or_path)
    if "/" in s or s.endswith(".toml"):
        return Path(s).expanduser()
    return POLICY_DIR / f"{s}.toml"


def parse_policy(text: bytes, source: str) -> Policy:
    """Validate policy TOML bytes; every error names its field."""
    try:
        doc = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"invalid policy {source}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise BadInput(f"invalid policy {source}: TOML syntax: {e}") from None
    try:
        return _policy_from(doc, text, source)
    except UserError as e:  # a field error names the field; say which file too
        raise BadInput(f"{e} (in {source})") from None


def _policy_from(doc: dict[str, Any], text: bytes, source: str) -> Policy:
    for where, allowed in _SCHEMA.items():
        table = doc if not where else doc.get(where, {})
        if not isinstance(table, dict):
            raise _fail(where, "must be a table")
        _F.no_unknown(table, allowed, where)
    pol = doc.get("policy", {})
    name = _get(pol, "name", "policy", str)
    if not name.strip():
        raise _fail("policy.name", "empty")
    pii = doc.get("pii", {})
    block, redact = _entities(pii, "block"), _entities(pii, "redact")
    both = block & redact
    if both:
        raise _fail("pii.redact", f"{sorted(both)[0]} is also in pii.block")
    thr = _unit(_get(pii, "score_threshold", "pii", float, 0.5), "pii.score_threshold", open_low=True)
    per: dict[str, float] = {}
    for ent, v in _get(pii, "thresholds", "pii", dict, {}).items():
        if ent not in _known_entities():
            raise _fail(f"pii.thresholds.{ent}", "unknown entity")
        per[ent] = _unit(_get(pii["thresholds"], ent, "pii.thresholds", float), f"pii.thresholds.{ent}", open_low=True)
    mem = doc.get("memorization", {})
    max_tok = _get(mem, "max_shared_tokens", "memorization", int, 8)
    if not 3 <= max_tok <= 1000:
        raise _fail("memorization.max_shared_tokens", f"must be between 3 and 1000, not {max_tok}")
    jac = _unit(_get(mem, "near_duplicate_jaccard", "memorization", float, 0.35), "memorization.near_duplicate_jaccard", open_low=True)
    shingle = _get(mem, "shingle_tokens", "memorization", int, 2)
    if not 1 <= shingle <= 8:
        raise _fail("memorization.shingle_tokens", f"must be between 1 and 8, not {shingle}")
    min_sh = _get(mem, "min_shingles", "memorization", int, 5)
    if min_sh < 1:
        raise _fail("memorization.min_shingles", f"must be at least 1, not {min_sh}")
    dp = doc.get("dp", {})
    dp_required = _get(dp, "required", "dp", bool, False)
    eps = _get(dp, "epsilon_per_seed_set", "dp", float, None) if "epsilon_per_seed_set" in dp else None
    delta = _get(dp, "delta", "dp", float, None) if "delta" in dp else None
    if eps is not None and eps <= 0:
        raise _fail("dp.epsilon_per_seed_set", f"must be positive, not {eps}")
    if delta is not None and not 0 < delta < 1:
        raise _fail("dp.delta", f"must be in (0, 1), not {delta}")
    if dp_required and (eps is None or delta is None):
        raise _fail("dp.epsilon_per_seed_set" if eps is None else "dp.delta", "missing (dp.required is true)")
    return Policy(
        name=name,
        description=_get(pol, "description", "policy", str, ""),
        sha256=hashlib.sha256(text).hexdigest(),
        source=source,
        block=block,
        redact=redact,
        score_threshold=thr,
        thresholds=per,
        max_shared_tokens=max_tok,
        near_duplicate_jaccard=jac,
        shingle_tokens=shingle,
        min_shingles=min_sh,
        block_canaries=_get(doc.get("canaries", {}), "block", "canaries", bool, True),
        export_requires_approval=_get(doc.get("export", {}), "requires_approval", "export", bool, True),
        export_reviewer_predates_job=_get(doc.get("export", {}), "reviewer_predates_job", "export", bool, False),
        raw_seeds_in_prompts=_get(doc.get("prompts", {}), "raw_seeds_allowed", "prompts", bool, False),
        dp_required=dp_required,
        dp_epsilon_per_seed_set=eps,
        dp_delta=delta,
        allow_degraded=_get(doc.get("nlp", {}), "allow_degraded", "nlp", bool, False),
    )


def load_policy(name_or_path: str | Path = "default") -> Policy:
    """Load and validate a policy by name (``policies/NAME.toml``) or path."""
    path = resolve_policy_path(name_or_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in POLICY_DIR.glob("*.toml")))
        raise BadInput(f"unknown policy {name_or_path!s} (no file {path}; shipped: {known})") from None
    except OSError as e:
        raise BadInput(f"cannot read policy {path}: {e.strerror}") from None
    return parse_policy(data, str(name_or_path))
