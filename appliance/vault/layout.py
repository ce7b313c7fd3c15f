"""Where the vault's files live inside the installation's home directory.

Kept in one place so that the canary scan, key rotation and the stray-file cleanup all agree on names.
The database file carries its key generation in its name (``vault-<generation>.duckdb``): the key file
names the current one, so replacing the key file is the single atomic switch of a key rotation.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from appliance.errors import BadInput
from appliance.paths import CLUSTER_DIR, MODEL_CACHE_DIR, RAY_DIR, USER_MODEL_REGISTRY

KEY_FILE = "vault.keys.json"
LOCK_FILE = "vault.lock"
CHECKPOINT_FILE = "audit.checkpoint.json"
TEMP_DIR = "vault-tmp"

_DB_RE = re.compile(r"^vault-([0-9a-f]{16,64})\.duckdb(\.wal)?$")


def key_file(home: Path) -> Path:
    return home / KEY_FILE


def lock_file(home: Path) -> Path:
    return home / LOCK_FILE


def checkpoint_file(home: Path) -> Path:
    return home / CHECKPOINT_FILE


def temp_dir(home: Path) -> Path:
    """DuckDB's spill directory: inside home, never the system temp dir (spill files are encrypted too)."""
    d = home / TEMP_DIR
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def clear_temp_dir(home: Path) -> None:
    """Spill files a killed process left behind: encrypted with per-process keys that died with it, so garbage."""
    d = home / TEMP_DIR
    if d.is_dir():
        for entry in os.scandir(d):
            if entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    pass


def db_file_name(generation: str) -> str:
    return f"vault-{generation}.duckdb"


def is_db_file_name(name: str) -> bool:
    """A current database file name as the key file may name it (no path, no WAL)."""
    m = _DB_RE.match(name)
    return bool(m) and not m.group(2)


def ensure_home(home: Path) -> None:
    """Create home owner-only: other local users must not even see file sizes."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)


# What may already be in a home before `init`: the model cache and registry (`models add`, the doctor) and the
# leftovers of an interrupted init. Temporary names are these with a leading dot (``atomic_write``).
_OWN_NAMES = frozenset({KEY_FILE, LOCK_FILE, CHECKPOINT_FILE, TEMP_DIR, MODEL_CACHE_DIR, USER_MODEL_REGISTRY, CLUSTER_DIR,
                        RAY_DIR})


def _is_own(name: str) -> bool:
    return name in _OWN_NAMES or bool(_DB_RE.match(name)) or any(name.startswith(f".{n}.") for n in _OWN_NAMES)


def check_new_home(home: Path) -> None:
    """Before `init`: refuse a directory that holds anything but the appliance's own files, so a shared folder is
    never made owner-only and mixed with the vault. A new, empty or appliance-only directory passes."""
    if not home.exists():
        return
    if not home.is_dir():
        raise BadInput(f"{home} exists and is not a directory; choose a new or empty directory for the vault")
    foreign = sorted(e.name for e in os.scandir(home) if not _is_own(e.name))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise BadInput(f"{home} is not empty and holds no vault ({foreign[0]!r}{more}); "
                        "choose a new or empty directory for the vault")


def stray_db_files(home: Path, current: str | None) -> list[Path]:
    """Database files (and WALs) of other key generations: leftovers of an interrupted rotation or init."""
    out = []
    if not home.is_dir():
        return out
    for entry in os.scandir(home):
        m = _DB_RE.match(entry.name)
        if m and (current is None or not entry.name.startswith(current)):
            out.append(Path(entry.path))
    return sorted(out)


def remove_stray_db_files(home: Path, current: str | None) -> list[str]:
    removed = []
    for p in stray_db_files(home, current):
        try:
            p.unlink()
            removed.append(p.name)
        except FileNotFoundError:
            pass
    return removed


def fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX: the directory entry must be synced too)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write-then-rename so a crash leaves either the old or the new file, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)
