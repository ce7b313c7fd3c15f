"""Writing a file the user named (a report, an audit export): the one place every such path goes through.

(The appliance's own small records outside the vault, the model registry and the compute-copy sidecars, are
written with ``write_output`` too, for its temporary-name-and-rename and its one-line disk-full error.)

Why: a mistyped path once replaced the vault's database with a JSON report. So a user-given output path
- is resolved first (``~``, ``..`` and symlinks, the last component included) and refused when it lands inside the
  installation's home, whatever it is called there: the home holds only the appliance's own files;
- never replaces an existing file unless the caller passes ``force`` (the CLI's ``--force``);
- is written to a temporary name beside it and renamed into place, so a crash or a full disk leaves either nothing or
  the old file, never half a file; the caller says "written" only after ``write_output`` returned.
Directories the user names for exports go through ``check_outside_home`` too (``appliance.export.target``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from appliance.errors import BadInput, disk_full_error, is_disk_full

# The TUI shows the same line, so it says what to do in both places.
_EXISTS = "already exists; choose another path (the command line replaces it with --force)"


def check_outside_home(path: str | os.PathLike[str], home: Path | None) -> Path:
    """``path`` resolved (symlinks followed); UserError when it is the home or anything inside it."""
    resolved = Path(path).expanduser().resolve()
    if home is not None:
        h = Path(home).expanduser().resolve()
        if resolved == h or h in resolved.parents:
            raise BadInput(f"refusing to write {os.fspath(path)}: it is inside the appliance home {h}, "
                            "which holds only the vault's own files (choose a path outside it)")
    return resolved


def check_output(path: str | os.PathLike[str], home: Path | None, *, force: bool = False) -> Path:
    """The resolved file to write; UserError when it is inside the home, a directory, or exists and ``force`` is off."""
    given = Path(path).expanduser()
    resolved = check_outside_home(given, home)
    if resolved.is_dir():
        raise BadInput(f"cannot write {os.fspath(path)}: it is a directory")
    if (os.path.lexists(given) or resolved.exists()) and not force:
        raise BadInput(f"{os.fspath(path)} {_EXISTS}")
    if resolved.exists() and not resolved.is_file():
        raise BadInput(f"cannot write {os.fspath(path)}: it is not a regular file")
    if not resolved.parent.is_dir():
        raise BadInput(f"cannot write {os.fspath(path)}: no directory {resolved.parent}")
    return resolved


def write_output(path: str | os.PathLike[str], data: str | bytes, home: Path | None, *, force: bool = False) -> Path:
    """Check ``path`` (see ``check_output``), then write ``data`` to a temporary file and rename it into place.

    Without ``force`` the final step is a hard link, which fails if a file appeared under that name meanwhile, so
    nothing is ever replaced; file systems without hard links fall back to a rename. Returns the resolved path."""
    target = check_output(path, home, force=force)
    body = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, target)
        else:
            _link_no_clobber(tmp, target, path)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(f"writing {os.fspath(path)}") from None
        raise BadInput(f"cannot write {os.fspath(path)}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return target


def _link_no_clobber(tmp: Path, target: Path, given: str | os.PathLike[str]) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise BadInput(f"{os.fspath(given)} {_EXISTS}") from None
    except OSError:  # no hard links here (e.g. FAT, some network file systems): a rename after the check above
        if target.exists():
            raise BadInput(f"{os.fspath(given)} {_EXISTS}") from None
        os.replace(tmp, target)
