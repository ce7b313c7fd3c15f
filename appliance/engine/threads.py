"""How many threads llama.cpp may use.

llama.cpp's worker threads spin while they wait for each other. On an oversubscribed machine throughput collapses
(measured on 2 cores: about 150 → under 1 token/s when another heavy process runs). So the thread count is taken
from the cores that are actually free right now, never from the core count alone, and model-heavy processes of one
user share the cores through leases (``ThreadBudget``, below). ``APPLIANCE_THREADS`` overrides.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from appliance.threadcount import MAX_THREADS, explicit_threads  # noqa: F401  (re-exported)


def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return idle, sum(fields)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_cores(sample_s: float = 0.15) -> int:
    """Cores idle over a short sample (at least 1)."""
    n = usable_cores()
    try:
        idle0, total0 = _cpu_times()
        time.sleep(sample_s)
        idle1, total1 = _cpu_times()
    except OSError:
        return n
    total = total1 - total0
    if total <= 0:
        return n
    idle_cores = (idle1 - idle0) / total * (os.cpu_count() or n)
    return max(1, min(n, int(idle_cores + 0.35)))


def choose_threads(requested: int | None = None) -> int:
    """Explicit request, else $APPLIANCE_THREADS, else the free cores."""
    return explicit_threads(requested) or free_cores()


# ---------------------------------------------------------------------------------------------- the shared budget
# Sampling idle cores is not enough when two model-heavy processes start together: both see every core idle and both
# take them all. So each process that loads a model also holds a lease, a file in a per-user directory locked with
# flock for the process's lifetime (the kernel drops the lock when the process dies, however it dies). Next to it,
# the lease has a busy file that the process locks only while it decodes (``ThreadBudget.busy``): a model that is
# loaded but idle (the TUI with a model open, a job's scorer waiting for records) takes no share. The busy leases split
# the usable cores between them, and a decoding model re-reads its share every few seconds and moves llama.cpp to it
# (``llama_set_n_threads``): when a second job starts decoding, the first gives up its extra cores; when it stops, the
# other takes them back. An explicit thread count (``--threads``, ``$APPLIANCE_THREADS``, ``--deterministic``)
# is kept as asked, but its busy lease still counts for the others.

BUDGET_DIR_ENV = "APPLIANCE_THREAD_BUDGET_DIR"
REFRESH_S = 2.0
BUSY_WAIT_S = 1.0  # the longest a model waits to mark its process busy (see ``_Lease.enter_busy``)


def _budget_dir_candidates() -> list[Path]:
    """Where the lease directory may be, best first."""
    env = os.environ.get(BUDGET_DIR_ENV)
    if env:
        return [Path(env)]
    out: list[Path] = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        out.append(Path(runtime) / "appliance-threads")
    # Before the shared temporary directory: there, another user can create our directory's name first.
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    out.append(Path(cache) / "appliance-threads")
    out.append(Path(tempfile.gettempdir()) / f"appliance-threads-{os.getuid()}")
    return out


def _safe_dir(path: Path) -> bool:
    """``path`` exists (created 0700 if missing), is a directory and not a symlink, ours and closed to others."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def budget_dir() -> Path | None:
    """The per-user lease directory (created 0700), or None when none is safe to use.

    ``$APPLIANCE_THREAD_BUDGET_DIR``, else the first safe one of ``$XDG_RUNTIME_DIR/appliance-threads``,
    ``~/.cache/appliance-threads`` (``$XDG_CACHE_HOME``) and ``/tmp/appliance-threads-<uid>``. A path that is a
    symlink, belongs to another user or is open to others is refused (another user could otherwise plant or hide
    leases); with none left the process falls back to idle-core sampling. The home's cache comes before ``/tmp``
    because there another local user can create the directory first and so turn the budget off for us.
    """
    return next((p for p in _budget_dir_candidates() if _safe_dir(p)), None)


def _locked_by_another(path: str) -> bool | None:
    """Whether another open file holds ``path``'s flock: True, False, or None when ``path`` is not a regular file
    we can open without following a link or blocking (planted entries are ignored)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        return False
    finally:
        os.close(fd)  # drops the lock we may have taken


class _Lease:
    """This process's lease: ``<name>.lease``, locked until ``release`` (the process is alive), and
    ``<name>.busy``, locked while one of its models decodes (the process takes a share of the cores)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.path = directory / f"{name}.lease"
        self.busy_path = directory / f"{name}.busy"
        # The busy file first, then the lease locked under a name that others skip and renamed: a lease is never
        # seen unlocked (another process counting leases cannot take it for a dead one's and remove it), and a
        # visible lease always has its busy file.
        pending = directory / f"{name}.new"
        self._busy_fd = os.open(self.busy_path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            self._fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        except OSError:
            self._drop_busy()
            raise
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            os.rename(pending, self.path)
        except OSError:
            os.close(self._fd)
            with contextlib.suppress(OSError):
                os.unlink(pending)
            self._drop_busy()
            raise
        self.users = 0  # models of this process that hold the lease
        self.decoding = 0  # of them, those decoding now (the busy file is locked while > 0)
        self.busy_locked = False

    def _drop_busy(self) -> None:
        os.close(self._busy_fd)
        with contextlib.suppress(OSError):
            os.unlink(self.busy_path)

    def enter_busy(self) -> None:
        """One more model of this process decodes (the first one locks the busy file). Caller holds ``_lease_lock``.

        Another process counting holds the busy file for microseconds; one that holds it longer (a stuck or hostile
        process of the same user) is waited for at most ``BUSY_WAIT_S``, after which this process decodes uncounted
        rather than hang."""
        if self.decoding == 0:
            deadline = time.monotonic() + BUSY_WAIT_S
            while True:
                try:
                    fcntl.flock(self._busy_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self.busy_locked = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.002)
        self.decoding += 1

    def leave_busy(self) -> None:
        """One model of this process stopped decoding (the last one unlocks). Caller holds ``_lease_lock``."""
        self.decoding -= 1
        if self.decoding == 0 and self.busy_locked:
            fcntl.flock(self._busy_fd, fcntl.LOCK_UN)
            self.busy_locked = False

    def live(self) -> int:
        """Processes decoding now, this one counted as if it decoded (it asks for the share it would decode at);
        a lease nobody holds (its process died) is removed with its busy file."""
        n = 1
        try:
            entries = list(os.scandir(self.dir))
        except OSError:
            return n
        for e in entries:
            if not e.name.endswith(".lease") or e.path == str(self.path):
                continue
            alive = _locked_by_another(e.path)
            busy_path = e.path[: -len(".lease")] + ".busy"
            if alive:
                n += bool(_locked_by_another(busy_path))
            elif alive is False:  # left by a process that died
                for path in (e.path, busy_path):
                    with contextlib.suppress(OSError):
                        os.unlink(path)
        return n

    def release(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._drop_busy()


_lease_lock = threading.Lock()
_leases: dict[Path, _Lease] = {}  # one lease per process and directory, shared by the models it has loaded


def _acquire() -> _Lease | None:
    with _lease_lock:
        d = budget_dir()
        if d is None:
            return None
        lease = _leases.get(d)
        if lease is None:
            try:
                lease = _leases[d] = _Lease(d)
            except OSError:
                return None
        lease.users += 1
        return lease


def _release(lease: _Lease) -> None:
    with _lease_lock:
        lease.users -= 1
        if lease.users == 0 and _leases.get(lease.dir) is lease:
            lease.release()
            del _leases[lease.dir]


class ThreadBudget:
    """The thread count of one loaded model: fixed when asked for, else this process's share of the cores while it
    decodes (``busy``)."""

    def __init__(self, requested: int | None = None) -> None:
        self.fixed = explicit_threads(requested)
        self._lease = _acquire()
        self._busy = 0
        self._next = time.monotonic() + REFRESH_S
        if self.fixed:
            self.threads = self.fixed
        else:
            self.threads = min(free_cores(), self.share())

    def share(self) -> int:
        """Usable cores divided among the processes decoding now, this one counted as decoding (at least 1)."""
        if self._lease is None:
            return usable_cores()
        return max(1, usable_cores() // self._lease.live())

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Around a model's decoding: while inside, this process's lease counts for the others' shares, and the
        first decode re-reads this process's share (it may have changed while the model was idle)."""
        lease = self._lease
        if lease is not None:
            with _lease_lock:
                lease.enter_busy()
            self._busy += 1
            self._next = 0.0
        try:
            yield
        finally:
            if lease is not None and self._lease is lease:  # else ``close`` ran inside and has unlocked
                self._busy -= 1
                with _lease_lock:
                    lease.leave_busy()

    def poll(self) -> int | None:
        """The new thread count when this process's share changed (checked at most every ``REFRESH_S``), else None."""
        if self.fixed or self._lease is None:
            return None
        now = time.monotonic()
        if now < self._next:
            return None
        self._next = now + REFRESH_S
        n = self.share()
        if n == self.threads:
            return None
        self.threads = n
        return n

    def close(self) -> None:
        if self._lease is not None:
            lease, self._lease = self._lease, None
            with _lease_lock:
                while self._busy > 0:  # closed inside ``busy`` (a model closed mid-decode): unlock for the others
                    self._busy -= 1
                    lease.leave_busy()
            _release(lease)
