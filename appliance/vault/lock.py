"""One process at a time per vault.

DuckDB already refuses a second writer on the same file, but only after the key is unwrapped and with
an IO error that names a PID. An advisory ``flock`` on a lock file beside the database gives a clear
message before any passphrase work, and also serialises key-file updates (failed-attempt counters,
passphrase changes, rotation) between processes. ``flock`` locks belong to the open file description,
so a second open in the same process is refused too.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from appliance.errors import BadInput
from appliance.vault import layout


class VaultLock:
    """Exclusive, non-blocking lock held for the lifetime of an open vault."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, home: Path) -> "VaultLock":
        path = layout.lock_file(home)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            try:
                pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                if pid.isdigit():
                    holder = f" (pid {pid})"
            except OSError:
                pass
            os.close(fd)
            raise BadInput(f"vault in use by another process{holder}: close it and try again") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
