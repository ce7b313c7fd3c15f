"""The one check every reader of a user-given file runs first (seed files, real evaluation files, task specs).

Why before reading: DuckDB and ``open`` happily read a directory's error, block on a FIFO, stream a device, follow a
symlink to somebody else's file, or (DuckDB) expand ``*`` and ``?`` into every matching file. Each of these is
refused here with one line that names the path and what it is, never the file's content. An empty file says so
instead of surfacing later as a confusing parser error.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

from appliance.errors import BadInput

# DuckDB's readers take their path as a glob pattern: a name with these characters may read other files too.
_PATTERN_CHARS = ("*", "?")

_KINDS = (
    (stat.S_ISDIR, "a directory, not a file"),
    (stat.S_ISFIFO, "a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "a character device, not a regular file"),
    (stat.S_ISBLK, "a block device, not a regular file"),
    (stat.S_ISSOCK, "a socket, not a regular file"),
)


def has_control_chars(text: str, allow: str = "") -> bool:
    """True when ``text`` holds a control character (C0, DEL, C1: NUL, ESC and terminal escape sequences, line
    breaks) or a Unicode line/paragraph separator, other than those in ``allow``."""
    return any(
        ch not in allow and unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text
    )


def without_control_chars(text: str, allow: str = "\n\t") -> str:
    """``text`` with every control character that ``has_control_chars`` names (other than ``allow``) shown as
    U+FFFD, for printing stored text on a terminal: an escape sequence in it is shown, never acted on."""
    return "".join("\ufffd" if ch not in allow and unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)


def check_input_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is a readable, non-empty regular file that is not a symbolic link; else UserError naming the
    path and what is wrong with it. ``what`` names the file's role in the message ("seed file", "task spec")."""
    p = Path(path)
    if has_control_chars(str(p)):
        raise BadInput(f"cannot read the {what}: its path contains control characters")
    if any(c in p.name for c in _PATTERN_CHARS):
        raise BadInput(f"cannot read {p}: a {what} name may not contain '*' or '?' (rename the file)")
    try:
        st = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise BadInput(f"{what} not found: {p} (no such file)") from None
    except OSError as e:
        raise BadInput(f"cannot read {p}: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise BadInput(f"cannot read {p}: it is a symbolic link; give the path of the file itself")
    for is_kind, words in _KINDS:
        if is_kind(st.st_mode):
            raise BadInput(f"cannot read {p}: it is {words}")
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"cannot read {p}: not a regular file")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise BadInput(f"cannot read {p}: {e.strerror}") from None
    os.close(fd)
    if st.st_size == 0:
        raise BadInput(f"{p.name}: the file is empty")
    return p
