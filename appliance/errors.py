"""Error types shared by every stage.

Every error a user can cause or meet is a ``UserError``: one line that names the problem (a field, a row and
column, never a record's content and never a command-line flag, since the TUI shows the same message). Its subclass
says what kind of problem it is, and the kind decides the CLI's exit code and how the TUI presents it:

=====================  ====  ==============================================================================
class                  exit  meaning
=====================  ====  ==============================================================================
``BadInput``           2     malformed file or value, invalid spec, unknown name, refused path, full disk
``IntegrityError``     3     something was altered or damaged: the audit log, a key file, a model, an export
``AccessDenied``       4     wrong passphrase, or the user's role may not do this
``MissingDependency``  5     an optional part is not installed (a model file, a package, a GPU build)
=====================  ====  ==============================================================================

A bare ``UserError`` counts as bad input. Anything else escaping is our bug: exit code 1 with the traceback.
"""


class UserError(Exception):
    """A problem the user can act on; the message is one line that names it."""

    exit_code = 2
    kind = "bad input"

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class BadInput(UserError):
    """Malformed or invalid input: a file, a value, a name, a path."""


class IntegrityError(UserError):
    """Stored data was altered or damaged (detected by a signature, a hash or an authentication tag)."""

    exit_code = 3
    kind = "integrity"


class AccessDenied(UserError):
    """Wrong credentials, or the signed-in user's role does not allow the action."""

    exit_code = 4
    kind = "access denied"


class MissingDependency(UserError):
    """An optional part the action needs is not installed or not registered."""

    exit_code = 5
    kind = "missing dependency"


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


def disk_full_error(doing: str, outcome: str = "nothing was changed") -> BadInput:
    """The one line a full disk gets, e.g. ``disk_full_error("writing report.json")``. ``outcome`` says what state
    things were left in, where "nothing was changed" would not be true (a long job keeps its finished batches)."""
    return BadInput(f"no space left on device while {doing}; {outcome} (free some space and try again)")
