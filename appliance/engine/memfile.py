"""Bytes as a file path llama.cpp can open, living only in memory where the OS allows.

Why: a decrypted adapter must not touch the disk. The driver hands it from the vault and a cluster worker gets it as
bytes over Ray; both load it through this one helper."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def memory_file(body: bytes, label: str, fallback_dir: Callable[[], AbstractContextManager[Path]]) -> Iterator[Path]:
    """``body`` as a path for the length of the block. On Linux an anonymous memory file (``memfd_create``), reachable
    as ``/proc/self/fd/N`` and gone when closed; elsewhere a file in ``fallback_dir()`` (a private directory that the
    caller's context manager removes afterwards)."""
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create(label, 0)
        try:
            with os.fdopen(os.dup(fd), "wb") as f:
                f.write(body)
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with fallback_dir() as d:
        path = d / "file.gguf"
        path.write_bytes(body)
        yield path
