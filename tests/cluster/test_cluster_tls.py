"""A TLS Ray head on this machine (started by `appliance cluster start`'s code and stopped here, one per module):
it speaks only mutual TLS, the doctor sees TLS, versions and model hashes from a home with the certificate set and
gets one failed line from a home without it, and a fewgen job with canary seeds decoded by two workers of that
head leaves no canary in any file under Ray's temp dir, the home or the system temp dir."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from appliance.cluster import node, tls
from tests.conftest import TASKS
from tests.vault.vault_helpers import init_author_home

PW = "cluster-passphrase-1"
CANARY = f"CANARY-{uuid.uuid4().hex}"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def systmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The system temp dir of this module's processes (the driver, and the Ray node it starts), to scan later."""
    d = tmp_path_factory.mktemp("systmp")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(d))
        mp.setattr(tempfile, "tempdir", str(d))
        yield d


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, systmp: Path) -> Iterator[tuple[Path, str]]:
    """A home with a vault, an author, canary seeds and a certificate set, and a TLS head started for it."""
    from appliance.service.session import Session

    home = tmp_path_factory.mktemp("cs")
    init_author_home(home, PW)
    with Session.open(home, "ana", PW) as s:
        s.vault.import_seeds("canary-seeds", [(f"A {CANARY} film, warm and funny {i}.", "positive") for i in range(4)]
                             + [(f"The {CANARY} plot is dull and slow {i}.", "negative") for i in range(4)])
    tls.make_certs(home)
    st = node.start(home, port=_free_port(), cpus=2)
    try:
        assert st.running and st.tls and st.address
        with pytest.MonkeyPatch.context() as mp:
            for name in tls.ray_tls_env(home):  # the driver's connect sets them in os.environ: gone after the module
                mp.delenv(name, raising=False)
            yield home, st.address
    finally:
        node.stop(home)
    assert not node.status(home).running
    node.remove_temp_dir(home)  # the head's logs and sockets: this test's run leaves nothing behind
    private = node.ray_temp_dir(home).parent
    private.rmdir()


def _handshake(address: str, d: Path, client_cert: bool) -> bytes:
    """TLS to the head's port with our CA, with or without the node certificate; what the server sends first."""
    host, port = address.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(d / tls.CA_CERT))
    ctx.set_alpn_protocols(["h2"])
    if client_cert:
        ctx.load_cert_chain(str(d / tls.NODE_CERT), str(d / tls.NODE_KEY))
    with socket.create_connection((host, int(port)), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(H2_PREFACE)
        try:
            return s.recv(64)
        except (ssl.SSLError, ConnectionError):
            return b""


def test_the_head_speaks_only_mutual_tls(cluster: tuple[Path, str]) -> None:
    home, address = cluster
    d = tls.cert_dir(home)
    assert _handshake(address, d, client_cert=True)[3:4] == b"\x04"  # an HTTP/2 SETTINGS frame: gRPC answers
    assert _handshake(address, d, client_cert=False) == b""  # no node certificate: the server hangs up
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:  # plain gRPC, as a Ray without TLS speaks
        s.sendall(H2_PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        assert s.recv(64) == b""


def test_doctor_sees_tls_versions_and_model_hashes(cluster: tuple[Path, str], tmp_path: Path) -> None:
    from appliance.cluster.probe import cluster_checks

    home, address = cluster
    checks = {c.name: c for c in cluster_checks(home, address)}
    assert {c.status for c in checks.values()} == {"pass"}, checks
    assert "TLS" in checks["cluster TLS"].detail and "cluster versions" in checks
    assert any(n.startswith("cluster model ") for n in checks)
    stranger = cluster_checks(tmp_path / "no-certs", address, timeout_s=8)  # no certificate set: cannot join
    assert [(c.name, c.status) for c in stranger] == [("cluster reachable", "pass"), ("cluster TLS", "fail")]


def test_canary_seeds_through_two_workers_leave_no_trace_on_disk(cluster: tuple[Path, str], systmp: Path) -> None:
    from appliance.service.generation import GenerationRequest, run_generation
    from appliance.service.session import Session
    from appliance.spec import load_task

    home, address = cluster
    req = GenerationRequest(task=load_task(TASKS / "sst2_sentiment.toml"), method="fewgen", n=4, seed=1,
                            deterministic=True, seed_set="canary-seeds", cluster=address, workers=2)
    with Session.open(home, "ana", PW) as s:
        result = run_generation(s, home, req)
    assert result.served_by
    with Session.open(home, "admin", PW) as s:
        entry = s.vault.audit_entries(action="job.cluster")[-1]
    assert entry["params"]["seeds_in_prompts"] == "raw"  # the default policy allows raw seeds in prompts
    assert entry["params"]["nodes"] == result.served_by
    needle = CANARY.encode()
    scanned, hits = 0, []
    for d in (node.ray_temp_dir(home), home, systmp):
        for root, _dirs, files in os.walk(d):
            for f in files:
                p = Path(root) / f
                try:
                    data = p.read_bytes()
                except OSError:  # a socket, a file removed meanwhile
                    continue
                scanned += 1
                if needle in data:
                    hits.append(str(p))
    assert scanned > 20 and list(node.ray_temp_dir(home).glob("session_*/logs/*"))  # Ray's logs were there to scan
    assert hits == []


def test_seeds_leave_the_driver_only_as_the_policy_allows() -> None:
    from appliance.errors import BadInput
    from appliance.generate import get_method
    from appliance.guard.policy import load_policy
    from appliance.service.methods import seeds_sent_to_workers

    seeds = [{"id": 1, "text": "a seed", "label": "positive"}]
    strict, default = load_policy("ferpa"), load_policy("default")
    assert seeds_sent_to_workers(get_method("zerogen", {}), strict) == "none"
    assert seeds_sent_to_workers(get_method("fewgen", {"seeds": seeds, "redact": str.upper}), strict) == "redacted"
    assert seeds_sent_to_workers(get_method("fewgen", {"seeds": seeds}), default) == "raw"
    with pytest.raises(BadInput, match="does not allow raw seeds"):
        seeds_sent_to_workers(get_method("fewgen", {"seeds": seeds}), strict)
