"""Connect this process to Ray: join a cluster by its address, or start a small local instance on 127.0.0.1.

Why a context manager: Ray starts processes (GCS, raylet, workers) that must not outlive the job. What ``connect``
started it shuts down, however the job ends; a Ray connection this process already holds (a test's, a long-running
TUI's) is used as it is and left open.

A hostile or unreachable address must give one line, not a hang: the address is parsed strictly (``host:port``) and
probed with a bounded TCP connect before Ray, whose own connect waits far longer, is asked to join it.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from appliance.cluster.tls import is_host, ray_tls_env
from appliance.errors import BadInput, MissingDependency
from appliance.paths import RAY_DIR

CONNECT_TIMEOUT_S = 5.0
# What a job sets in this process's environment for Ray (TLS, token authentication), put back when it ends.
RAY_ENV = ("RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT", "RAY_AUTH_MODE",
           "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN")
MAX_LOCAL_WORKERS = 64
_SOCKET_ROOM = 72  # what Ray appends to our private directory: /t/session_<date>_<pid>/sockets/plasma_store (64 measured)


@dataclass(frozen=True)
class Connection:
    """What a job needs to know about the Ray instance it runs on."""

    address: str  # "local" for an instance started here
    started_here: bool
    temp_dir: Path | None  # Ray's session files, for an instance started here


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (IPv4, a host name, or ``[IPv6]:port``), checked; BadInput naming the problem otherwise."""
    text = address.strip() if isinstance(address, str) else ""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\s/]+):(\d{1,5})", text)
    if not m:
        raise BadInput(f"cluster address {text[:80]!r} is not HOST:PORT (e.g. 10.0.0.5:6379)")
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if m.group(1):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise BadInput(f"cluster address {text[:80]!r}: {host!r} is not an IPv6 address") from None
    elif not is_host(host):
        raise BadInput(f"cluster address {text[:80]!r}: {host[:80]!r} is not a host name or IP address")
    if not 1 <= int(port) <= 65535:
        raise BadInput(f"cluster address {text[:80]!r}: port must be 1..65535")
    return host, int(port)


def probe(host: str, port: int, timeout_s: float | None = None) -> None:
    """Is a Ray head answering at ``host:port``? A plain TCP connect, then a request to Ray's control service (GCS),
    each bounded in time (``CONNECT_TIMEOUT_S``; Ray adds its own 5 s connect attempts): BadInput when not, instead
    of ``ray.init``'s endless retries against an address that is not a Ray head."""
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except socket.timeout:
        raise BadInput(f"cluster {host}:{port} did not answer within {timeout_s:g} s") from None
    except OSError as e:
        raise BadInput(f"cannot reach cluster {host}:{port}: {e.strerror or e.__class__.__name__}") from None
    from ray._raylet import InnerGcsClient  # Ray's own client, as `ray health-check` uses it

    try:
        InnerGcsClient.standalone(f"{host}:{port}", None, int(timeout_s * 1000))
    except Exception as e:  # noqa: BLE001 - Ray's RpcError and kin: any failure here means "not a usable head"
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise BadInput(f"cluster {host}:{port} does not answer as a Ray head ({reason})") from None


def ray_temp_dir(home: Path) -> Path:
    """Where a Ray instance started for this home keeps its session files (logs, sockets): ``<private>/t``.

    Ray makes its temporary directory world-writable (0777), so it lives inside a private directory of ours, 0700,
    that nobody else can enter: under the home when the path is short enough for unix sockets (< 108 bytes), else
    under the system's temporary directory, named after the home, else (a long ``$TMPDIR``) under ``/tmp``. A private
    directory that is a symlink, another user's or open to others is refused."""
    tag = hashlib.sha256(str(Path(home).resolve()).encode()).hexdigest()[:12]
    candidates = [Path(home).resolve() / RAY_DIR] + [Path(d) / f"appliance-ray-{os.getuid()}-{tag}"
                                                     for d in (tempfile.gettempdir(), "/tmp")]
    private = next((c for c in candidates if len(str(c)) + _SOCKET_ROOM < 108), None)
    if private is None:
        raise BadInput(f"no directory short enough for Ray's sockets: {candidates[-2]} is too long; set TMPDIR shorter")
    try:
        private.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(private)
    except OSError as e:
        raise BadInput(f"cannot create Ray's directory {private}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise BadInput(f"Ray's directory {private} is not a private directory of this user; remove it")
    return private / "t"


def _ray():
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is a dependency; a stripped install may lack it
        raise MissingDependency("scale-out needs the ray package (pip install ray)") from None
    return ray


@contextmanager
def connect(home: Path, *, address: str | None = None, workers: int | None = None) -> Iterator[Connection]:
    """Ray, for the length of a job: join the cluster at ``address``, or start a local instance on 127.0.0.1 with
    ``workers`` CPUs when no address is given. TLS settings from the home (``ray_tls_env``) are applied to this
    process's environment first, so the Ray processes it starts inherit them. A local instance's session files
    (``ray_temp_dir``: logs, sockets) are removed when it stops; scan them while it runs."""
    if address is None and (workers is None or not 1 <= workers <= MAX_LOCAL_WORKERS):
        raise BadInput(f"workers must be 1..{MAX_LOCAL_WORKERS}, not {workers}")
    host_port = parse_address(address) if address is not None else None
    ray = _ray()
    if ray.is_initialized():  # a connection this process holds already: used, and left open
        yield Connection(address=address or "local", started_here=False, temp_dir=None)
        return
    saved_env = {k: os.environ.get(k) for k in RAY_ENV}
    temp = ray_temp_dir(home) if host_port is None else None
    env = ray_tls_env(home) or (_local_token_env(temp.parent) if temp is not None else {})
    os.environ.update(env)  # before the probe: a TLS head answers only a client with the certificates
    _reread_config(env)
    try:
        yield from _joined(ray, home, address, host_port, workers, temp)
    finally:
        for k, v in saved_env.items():  # the job's Ray settings do not outlive it in this process
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reread_config(env)
        if temp is not None:  # the run's token, once Ray no longer reads it, and our private directory if empty
            with contextlib.suppress(OSError):
                (temp.parent / "auth.token").unlink(missing_ok=True)
                temp.parent.rmdir()


def _reread_config(changed: dict[str, str]) -> None:
    """Ray reads RAY_USE_TLS / RAY_AUTH_MODE once, when imported: after changing them, make it read them again (as
    Ray's own token setup does) and drop the token it cached, so a later job of this process (the TUI's: a local
    instance, then a cluster) does not run on stale settings or another instance's token."""
    if changed:  # the config first, then the cached token (the order Ray's own test helpers use)
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def _local_token_env(private: Path) -> dict[str, str]:
    """Token authentication for a local instance of a home without a certificate set: a fresh random token, 0600 in
    our private directory, instead of the one Ray would otherwise write world-readable to ``~/.ray``."""
    token = private / "auth.token"
    with contextlib.suppress(FileNotFoundError):
        token.unlink()
    fd = os.open(token, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


def _joined(ray, home: Path, address: str | None, host_port: tuple[str, int] | None, workers: int | None,
            temp: Path | None) -> Iterator[Connection]:
    if host_port is not None:
        probe(*host_port)
    common = dict(include_dashboard=False, log_to_driver=False, configure_logging=False, namespace="appliance")
    if host_port is None:
        ray.init(num_cpus=workers, _node_ip_address="127.0.0.1", _temp_dir=str(temp),
                 _system_config={"automatic_object_spilling_enabled": False}, **common)
    else:
        try:
            ray.init(address=f"{host_port[0]}:{host_port[1]}", **common)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            ray.shutdown()
            raise BadInput(f"cluster {address}: Ray could not join it ({str(e).splitlines()[0][:160] if str(e) else type(e).__name__})") from None
    try:
        yield Connection(address=address or "local", started_here=True, temp_dir=temp)
    finally:
        ray.shutdown()
        if temp is not None:  # Ray's logs of this run (workers' output) do not outlive it
            shutil.rmtree(temp, ignore_errors=True)
