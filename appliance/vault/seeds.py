"""Seed sets, the privacy ledger charged against them, and the DP adapters trained on them.

Seed texts and adapter weights are sealed under the ``seeds`` room key (authors only); a seed's fingerprint is
keyed under it too, so nobody else can confirm a guessed text. Seed-set names, sizes, ledger entries and adapter
manifests (ε, δ, sha256) stay readable to reviewers and auditors: they are how budgets are checked.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

from appliance.errors import BadInput, IntegrityError
from appliance.vault import db, fields, roles, schema
from appliance.vault.audit import canonical
from appliance.vault.core import VaultCore, check_label_name
from appliance.vault.keys import now_iso

SEED_TYPES = {"id": "BIGINT", "seed_set_id": "BIGINT", "row_no": "BIGINT", "text": "VARCHAR", "label": "VARCHAR", "sha256": "VARCHAR"}
_SET_FIELDS = ("id", "name", "task_id", "task_name", "source_name", "source_sha256", "n_seeds", "created_at", "created_by")
_ADAPTER_FIELDS = ("id", "name", "seed_set_id", "model", "model_sha256", "sha256", "manifest", "created_at", "created_by")


class SeedsMixin(VaultCore):
    def import_seeds(
        self,
        seed_set: str,
        rows: Sequence[tuple[str, str | None]] | Sequence[dict[str, Any]],
        *,
        task_id: int | None = None,
        task_name: str | None = None,
        source_name: str | None = None,
        source_sha256: str | None = None,
    ) -> int:
        """Store a named set of seed records (text, label) in one transaction; returns the seed set id."""
        self.require("seed.import")
        check_label_name("seed set name", seed_set)
        gen, key = self._room_key(roles.SEEDS)
        texts: list[str] = []
        labels: list[str | None] = []
        for i, r in enumerate(rows):
            text, label = (r.get("text"), r.get("label")) if isinstance(r, dict) else (r[0], r[1])
            if not isinstance(text, str) or not text.strip():
                raise BadInput(f"seed {i + 1}: empty text")
            texts.append(text)
            labels.append(label)
        if not texts:
            raise BadInput("no seed records to import")
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM seed_sets WHERE name = ?", [seed_set]).fetchone():
                raise BadInput(f"seed set {seed_set!r} already exists; choose another seed set name")
            set_id = schema.next_id(con, "seed_sets")
            self._insert(con, "seed_sets", {"id": set_id, "name": seed_set, "task_id": task_id, "task_name": task_name,
                                            "source_name": source_name, "source_sha256": source_sha256,
                                            "n_seeds": len(texts), "created_at": now_iso(), "created_by": self.user})
            first = schema.next_id(con, "seeds")
            n = len(texts)
            ids = list(range(first, first + n))
            db.insert_columns(con, "seeds", {
                "id": ids,
                "seed_set_id": [set_id] * n,
                "row_no": list(range(1, n + 1)),
                "text": [fields.seal_text(key, gen, roles.SEEDS, "seeds", "text", i, t) for i, t in zip(ids, texts)],
                "label": labels,
                "sha256": [fields.keyed_hash(key, t) for t in texts],
            }, SEED_TYPES)
            self.audit("seed.import", {"seed_set_id": set_id, "task_id": task_id},
                       {"seed_set": seed_set, "rows": n, "source_sha256": source_sha256})
        return set_id

    def list_seed_sets(self) -> list[dict[str, Any]]:
        """Seed sets by name and size (no text)."""
        self.require("seed.list")
        return self._rows("seed_sets", _SET_FIELDS)

    def list_seeds(self, seed_set: str | int) -> list[dict[str, Any]]:
        """Raw seed records of a set (by name or id). Authors holding the seeds key only."""
        self.require("seed.read")
        self._room_key(roles.SEEDS)
        set_id = self._seed_set_id(seed_set)
        out = self._rows("seeds", ("id", "seed_set_id", "row_no", "text", "label", "sha256"), "seed_set_id = ?", [set_id],
                         order="row_no")
        for d in out:
            d["text"] = self._open(roles.SEEDS, "seeds", "text", d["id"], d["text"])
        return out

    def _seed_set_id(self, seed_set: str | int) -> int:
        col = "id" if isinstance(seed_set, int) else "name"
        row = self._one(f"SELECT id FROM seed_sets WHERE {col} = ?", [seed_set])
        if row is None:
            raise BadInput(f"no seed set {seed_set!r}")
        return int(row[0])

    # ------------------------------------------------------------------ privacy ledger

    def privacy_spent(self, seed_set: str | int) -> dict[str, Any]:
        """ε and δ charged to a seed set so far, by basic composition (sums), with the entries."""
        self.require("ledger.read")
        set_id = self._seed_set_id(seed_set)
        rows = self._rows("privacy_ledger", ("id", "kind", "ref", "epsilon", "delta", "created_at", "created_by"),
                          "seed_set_id = ?", [set_id])
        return {"seed_set_id": set_id, "epsilon": sum(r["epsilon"] for r in rows), "delta": sum(r["delta"] for r in rows),
                "composition": "basic (sum of ε and of δ)", "entries": rows}

    def ensure_privacy_budget(self, seed_set: str | int, epsilon: float, budget: float,
                              permission: str = "ledger.charge") -> dict[str, Any]:
        """What the seed set has spent, or a refusal audited under ``permission`` when ``epsilon`` more would exceed
        ``budget``.

        Callers check before costly work (loading a model, training) and ``charge_privacy`` checks again when it
        writes the charge."""
        spent = self.privacy_spent(seed_set)
        if spent["epsilon"] + epsilon > budget + 1e-9:
            self.audit_refusal(permission, {"seed_set_id": spent["seed_set_id"]},
                               f"over budget: {spent['epsilon']:.3g} + {epsilon:.3g} > {budget:.3g}")
            raise BadInput(
                f"privacy budget exceeded for seed set {seed_set!r}: spent ε = {spent['epsilon']:.2f}, this run "
                f"ε = {epsilon:.2f}, budget ε ≤ {budget:g}"
            )
        return spent

    def charge_privacy(self, seed_set: str | int, kind: str, ref: str, epsilon: float, delta: float, budget: float) -> int:
        """Charge (ε, δ) to a seed set's ledger; refuse (audited) when the total would exceed ``budget``."""
        with self.transaction() as con:
            spent = self.ensure_privacy_budget(seed_set, epsilon, budget)
            entry_id = schema.next_id(con, "privacy_ledger")
            self._insert(con, "privacy_ledger", {"id": entry_id, "seed_set_id": spent["seed_set_id"], "kind": kind, "ref": ref,
                                                 "epsilon": float(epsilon), "delta": float(delta), "created_at": now_iso(),
                                                 "created_by": self.user})
            self.audit("ledger.charge", {"seed_set_id": spent["seed_set_id"], "ledger_id": entry_id},
                       {"kind": kind, "ref": ref, "epsilon": epsilon, "delta": delta,
                        "total_epsilon": spent["epsilon"] + epsilon, "budget": budget})
        return entry_id

    # ------------------------------------------------------------------ DP adapters

    def add_adapter(self, name: str, seed_set: str | int, model: str, model_sha256: str, body: bytes,
                    manifest: dict[str, Any]) -> int:
        """Store a trained adapter (its GGUF bytes sealed under the seeds key) and audit it."""
        self.require("adapter.train")
        check_label_name("adapter name", name)
        gen, key = self._room_key(roles.SEEDS)
        digest = hashlib.sha256(body).hexdigest()
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM adapters WHERE name = ?", [name]).fetchone():
                raise BadInput(f"adapter {name!r} already exists; choose another name")
            set_id = self._seed_set_id(seed_set)
            adapter_id = schema.next_id(con, "adapters")
            self._insert(con, "adapters", {
                "id": adapter_id, "name": name, "seed_set_id": set_id, "model": model, "model_sha256": model_sha256,
                "sha256": digest, "manifest": canonical(manifest),
                "body": fields.seal_bytes(key, gen, roles.SEEDS, "adapters", "body", adapter_id, body),
                "created_at": now_iso(), "created_by": self.user})
            self.audit("adapter.add", {"adapter_id": adapter_id, "seed_set_id": set_id},
                       {"name": name, "sha256": digest, "model": model, "privacy": manifest.get("privacy")})
        return adapter_id

    def list_adapters(self) -> list[dict[str, Any]]:
        self.require("adapter.list")
        out = self._rows("adapters", _ADAPTER_FIELDS)
        for d in out:
            d["manifest"] = json.loads(d["manifest"])
        return out

    def get_adapter(self, name: str) -> tuple[dict[str, Any], bytes]:
        """An adapter's record and its GGUF bytes (checked against the stored sha256). Authors only: it runs jobs."""
        self.require("job.run")
        self._room_key(roles.SEEDS)
        rows = self._rows("adapters", (*_ADAPTER_FIELDS, "body"), "name = ?", [name])
        if not rows:
            raise BadInput(f"no adapter named {name!r} (see `appliance adapters list`)")
        meta = rows[0]
        body = fields.open_bytes(self._keys[roles.SEEDS], roles.SEEDS, "adapters", "body", meta["id"], bytes(meta.pop("body")))
        meta["manifest"] = json.loads(meta["manifest"])
        if hashlib.sha256(body).hexdigest() != meta["sha256"]:
            raise IntegrityError(f"adapter {name!r} does not match its recorded sha256; refusing to load it")
        return meta, body
