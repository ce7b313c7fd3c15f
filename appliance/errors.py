"""Error types shared by every stage.

``UserError`` is bad input from the user (malformed file, wrong passphrase, invalid spec, unknown model):
the CLI prints its one-line message and exits with code 2. Anything else escaping is our bug: exit code 1.
"""


class UserError(Exception):
    """Bad input from the user; the message is one line that names the problem."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# errno values meaning "the file system is full": no space left, or the user's quota is used up.
_DISK_FULL_ERRNOS = frozenset({28, 122})  # ENOSPC, EDQUOT (Linux)
_DISK_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "database or disk is full")


def is_disk_full(e: BaseException) -> bool:
    """Did a write fail because the disk is full? An ``OSError`` (ENOSPC, EDQUOT) or a library error (DuckDB raises
    its own ``IOException``) whose message carries the operating system's words; causes are followed too."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _DISK_FULL_ERRNOS:
            return True
        if any(t in str(cur).lower() for t in _DISK_FULL_TEXTS):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def disk_full_error(doing: str, outcome: str = "nothing was changed") -> UserError:
    """The one line a full disk gets, e.g. ``disk_full_error("writing report.json")``. ``outcome`` says what state
    things were left in, where "nothing was changed" would not be true (a long job keeps its finished batches)."""
    return UserError(f"no space left on device while {doing}; {outcome} (free some space and try again)")
