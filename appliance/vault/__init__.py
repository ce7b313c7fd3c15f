"""The encrypted vault: every sensitive byte the appliance keeps, in one encrypted DuckDB database.

``Vault`` (store.py) is the API: create/open with a passphrase, then tasks, jobs, records, seeds, reports,
exports and the audit log, each call checked against the user's role and audited. Modules by concern:
keys (passphrases → data key), db (encrypted DuckDB connections), schema, audit (signed hash chain),
roles, importer (CSV/JSONL/Parquet seeds), rotate (re-encryption), lock (one process per vault).
"""

from appliance.vault.audit import VerifyResult
from appliance.vault.importer import SeedRow, read_seed_file
from appliance.vault.seed_import import ImportResult, import_file
from appliance.vault.keys import KdfParams
from appliance.vault.roles import ADMIN, AUTHOR, REVIEWER, ROLES
from appliance.vault.store import Vault

__all__ = [
    "ADMIN",
    "AUTHOR",
    "REVIEWER",
    "ROLES",
    "ImportResult",
    "KdfParams",
    "SeedRow",
    "Vault",
    "VerifyResult",
    "import_file",
    "read_seed_file",
]
