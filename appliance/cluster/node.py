"""Start, stop and show this machine's Ray node (`appliance cluster start|stop|status`), private by construction.

``ray start`` runs here with the home's TLS environment (``tls.ray_tls_env``: a node without the certificates can
neither join nor connect), object spilling off (Ray would otherwise write the objects it holds, which are prompts
and generated text, to disk when its shared memory fills: a job then waits or fails instead) and the home's own
Ray temp dir (``runtime.ray_temp_dir``, owner-only), so the session's sockets and logs are not mixed with other
users' Ray sessions and can be scanned and removed. Stopping ends only the processes that name that temp dir, by
process id, never every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.cluster.runtime import parse_address, ray_temp_dir
from appliance.cluster.tls import is_host, ray_tls_env
from appliance.errors import BadInput, MissingDependency

# What Ray may write to disk by itself: nothing it holds for a job (spilling off); its own logs stay in temp_dir.
SYSTEM_CONFIG = {"automatic_object_spilling_enabled": False}
DEFAULT_PORT = 6379
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    address: str | None  # the head's GCS address as Ray wrote it (host:port), None when unknown
    temp_dir: Path
    pids: tuple[int, ...]
    tls: bool


def _ray_exe() -> str:
    exe = Path(sys.executable).with_name("ray")
    if exe.exists():
        return str(exe)
    found = shutil.which("ray")
    if not found:
        raise MissingDependency("Ray's command line (`ray`) is not installed; install the pinned requirements")
    return found


def ray_env(home: Path) -> dict[str, str]:
    """The environment for a Ray process of this home: ours, with TLS and token authentication when the home has
    a certificate set, and without a stray RAY_ADDRESS that would send it to another cluster."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(ray_tls_env(home))
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def start_args(home: Path, port: int, cpus: int | None, node_ip: str | None, head_address: str | None) -> list[str]:
    """The `ray start` command line for a head (``head_address`` None) or a worker joining ``head_address``."""
    if not 1 <= port <= 65535:
        raise BadInput(f"port must be between 1 and 65535, not {port}")
    if cpus is not None and cpus < 1:
        raise BadInput(f"CPUs for workers must be at least 1, not {cpus}")
    if head_address:
        parse_address(head_address)  # HOST:PORT, one line otherwise (never an option slipped into `ray start`)
    if node_ip and not is_host(node_ip):
        raise BadInput(f"node address {node_ip[:80]!r} is not an IP address or host name")
    args = [_ray_exe(), "start", "--disable-usage-stats", "--temp-dir", str(ray_temp_dir(home))]
    if head_address:
        args += ["--address", head_address]
    else:
        args += ["--head", "--port", str(port), "--include-dashboard=false",
                 "--system-config", json.dumps(SYSTEM_CONFIG)]
    if cpus is not None:
        args += ["--num-cpus", str(cpus)]
    if node_ip:
        args += ["--node-ip-address", node_ip]
    return args


def start(home: Path, port: int = DEFAULT_PORT, cpus: int | None = None, node_ip: str | None = None,
          head_address: str | None = None, require_tls: bool = True) -> NodeStatus:
    """Start this machine's Ray node (a head, or a worker of ``head_address``) and wait until it runs. Without a
    certificate set it is refused unless ``require_tls`` is False: records would cross the network in clear."""
    env = ray_env(home)
    if require_tls and "RAY_USE_TLS" not in env:
        raise BadInput("this home has no cluster certificates: make them first (`appliance cluster certs`) or "
                       "start without TLS explicitly")
    now = status(home)
    if now.running:
        raise BadInput(f"a Ray node of this home already runs (processes {', '.join(map(str, now.pids))}); stop it first")
    try:
        out = subprocess.run(start_args(home, port, cpus, node_ip, head_address), env=env, capture_output=True,
                             text=True, timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop(home)
        raise BadInput(f"Ray did not start within {START_TIMEOUT_S} s; see the logs in {ray_temp_dir(home)}") from None
    if out.returncode != 0:
        stop(home)
        lines = [ln for ln in (out.stderr + out.stdout).splitlines() if "Error" in ln or "error" in ln]
        raise BadInput(f"Ray did not start: {(lines[-1] if lines else 'exit code ' + str(out.returncode)).strip()[:300]}")
    return status(home)


def _pids_of(temp_dir: Path) -> list[int]:
    """Processes of this user whose command line names the temp dir: the node's GCS, raylet, agents and workers."""
    needle = str(temp_dir).encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.stat(entry.path).st_uid != os.getuid():
                continue
            with open(os.path.join(entry.path, "cmdline"), "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in cmd:
            found.append(int(entry.name))
    return sorted(found)


def status(home: Path) -> NodeStatus:
    d = ray_temp_dir(home)
    pids = [p for p in _pids_of(d) if _alive(p)]
    address = None
    try:
        address = (d / "ray_current_cluster").read_text(encoding="utf-8").strip() or None
    except OSError:
        pass
    return NodeStatus(bool(pids), address, d, tuple(pids), "RAY_USE_TLS" in ray_tls_env(home))


def stop(home: Path, grace_s: float = 5.0, rounds: int = 3) -> list[int]:
    """End this home's Ray processes (SIGTERM, then SIGKILL after ``grace_s``); the ids it ended. Ray may start a
    process while its others end (a worker, an agent), so it looks again, up to ``rounds`` times."""
    ended: list[int] = []
    for _ in range(rounds):
        pids = [p for p in _pids_of(ray_temp_dir(home)) if _alive(p)]
        if not pids:
            break
        _signal(pids, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.2)
        _signal([p for p in pids if _alive(p)], signal.SIGKILL)
        ended += pids
    return sorted(set(ended))


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ", 1)[1][:1] != b"Z"  # a zombie has ended; its parent reaps it
    except (OSError, IndexError):
        return False


def remove_temp_dir(home: Path) -> None:
    """Remove the stopped node's sockets and logs (refused while it runs)."""
    if status(home).running:
        raise BadInput("the Ray node of this home still runs; stop it first")
    shutil.rmtree(ray_temp_dir(home), ignore_errors=True)
