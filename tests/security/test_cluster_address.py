"""Attacks on the cluster address and Ray's directory: a malformed, unreachable or hostile ``--cluster`` is one line
with exit 2 (never a traceback, never ray.init's endless retries), and nothing is written to the vault."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from appliance.cluster import runtime
from appliance.errors import BadInput
from tests.conftest import TASKS
from tests.security.hardening_helpers import make_vault, pw_file, run_cli, use_fast_kdf

TASK = str(TASKS / "sst2_sentiment.toml")


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)
    monkeypatch.setattr(runtime, "CONNECT_TIMEOUT_S", 1.0)


@pytest.mark.parametrize("address", ["not-an-address", "1.2.3.4:99999", "ray://10.0.0.1:6379", "auto", "h:1;rm -rf /",
                                     "../../etc/passwd:1", "[zz::1]:1", "host:0", "a" * 300 + ":1", ":6379"])
def test_malformed_address_is_refused_before_the_passphrase(address: str, tmp_path: Path, capsys) -> None:
    rc, _, err = run_cli(capsys, "generate", "--home", str(tmp_path / "h"), "--task", TASK, "--cluster", address)
    assert rc == 2 and err.count("\n") == 1 and "cluster address" in err and "Traceback" not in err, err
    assert not (tmp_path / "h").exists()


@pytest.mark.parametrize("workers", ["0", "-3", "100000"])
def test_worker_count_out_of_range_is_refused(workers: str, tmp_path: Path, capsys) -> None:
    rc, _, err = run_cli(capsys, "generate", "--home", str(tmp_path / "h"), "--task", TASK, "--workers", workers)
    assert rc == 2 and "workers must be 1..64" in err and "Traceback" not in err, err


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_cluster_is_one_line_and_no_job(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    make_vault(home)
    t0 = time.perf_counter()
    rc, _, err = run_cli(capsys, "generate", "--home", str(home), "--user", "alice", "--passphrase-file",
                         str(pw_file(tmp_path, "alice")), "--task", TASK, "--n", "2", "--cluster",
                         f"127.0.0.1:{_closed_port()}")
    assert rc == 2 and "cannot reach cluster 127.0.0.1:" in err and "Traceback" not in err, err
    assert time.perf_counter() - t0 < 60
    from appliance.vault import Vault
    from tests.security.hardening_helpers import PW

    with Vault.open(home, "alice", PW["alice"]) as v:
        assert v.list_jobs() == [] and v.list_tasks() == []


def test_a_server_that_is_not_a_ray_head_is_refused_in_bounded_time(tmp_path: Path) -> None:
    """A hostile listener (it answers, but not as Ray): ray.init would retry forever; the probe gives up."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nnot ray")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(BadInput, match=r"does not answer as a Ray head"):
            with runtime.connect(tmp_path, address=f"127.0.0.1:{srv.getsockname()[1]}"):
                pass
        assert time.perf_counter() - t0 < 30
    finally:
        stop.set()
        t.join()
        srv.close()


def test_ray_directory_planted_by_someone_else_is_refused(tmp_path: Path) -> None:
    short = Path(tempfile.mkdtemp(prefix="rt"))  # short enough that Ray's directory goes under the home
    home = short / "home"
    home.mkdir()
    try:
        _planted(home, tmp_path)
    finally:
        shutil.rmtree(short)


def _planted(home: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", home / "ray")  # a symlink where the private directory should be
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    with pytest.raises(BadInput, match="not a private directory"):
        runtime.ray_temp_dir(home)
    (home / "ray").unlink()
    (home / "ray").mkdir(mode=0o777)
    os.chmod(home / "ray", 0o777)  # open to others: someone could plant sockets in it
    with pytest.raises(BadInput, match="not a private directory"):
        runtime.ray_temp_dir(home)
    os.chmod(home / "ray", 0o700)
    assert runtime.ray_temp_dir(home) == (home / "ray" / "t").resolve()


def test_a_long_home_and_a_long_tmpdir_still_give_ray_a_socket_path_that_fits(tmp_path: Path, monkeypatch) -> None:
    """Unix socket paths stop at 107 bytes: a deep home and a deep $TMPDIR put Ray's private directory under /tmp."""
    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    d = runtime.ray_temp_dir(deep / "home")
    try:
        assert str(d).startswith("/tmp/appliance-ray-") and len(str(d)) + runtime._SOCKET_ROOM < 108
        assert os.stat(d.parent).st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(d.parent, ignore_errors=True)
