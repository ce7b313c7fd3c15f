"""The export's target directory: refuse one that holds anything, build beside it, rename at the end.

An export is written into a hidden staging directory next to the target (same file system, so the final
``os.replace`` is atomic) and only renamed into place when every file, the manifest and its signature are complete.
A crash or an error leaves no half-written export under the target's name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from appliance.errors import BadInput
from appliance.outputs import check_outside_home


def check_target(to: Path, home: Path | None = None) -> Path:
    """The resolved target; UserError when it is inside the appliance home, a file, or a directory that is not empty."""
    to = check_outside_home(to, home)
    if to.exists() and not to.is_dir():
        raise BadInput(f"export target {to} exists and is not a directory")
    if to.is_dir() and any(to.iterdir()):
        raise BadInput(f"export target {to} is not empty; choose a new or empty directory")
    return to


def make_staging(to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{to.name}.", suffix=".partial", dir=to.parent))


def publish(staging: Path, to: Path) -> None:
    """Rename the finished staging directory to the target (an empty target directory is replaced)."""
    check_target(to)
    os.chmod(staging, 0o755 & ~_umask())
    os.replace(staging, to)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
