"""Attacks on the cluster's certificate set: a loosened, swapped, foreign-owned, symlinked, truncated or mixed set
is refused in one line before Ray reads it; a set is never overwritten by accident; a doctor pointed at nothing
answers in one line within its time limit. No Ray process is started here."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from appliance.cluster import tls
from appliance.cluster.probe import cluster_checks
from appliance.errors import AccessDenied, BadInput, IntegrityError
from appliance.vault import layout
from tests.security.hardening_helpers import assert_one_line_error, run_cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    tls.make_certs(h, ["10.0.0.5"])
    return h


def test_certs_are_private_and_name_the_hosts(home: Path) -> None:
    d = tls.cert_dir(home)
    assert stat.S_IMODE(os.lstat(d).st_mode) == 0o700
    assert sorted(os.listdir(d)) == sorted(tls.FILES)  # the CA's key is not kept
    for name in tls.FILES:
        assert stat.S_IMODE(os.lstat(d / name).st_mode) == 0o600
    certs = tls.load_certs(home)
    assert certs is not None and "10.0.0.5" in certs.hosts and "127.0.0.1" in certs.hosts
    env = tls.ray_tls_env(home)
    assert env["RAY_USE_TLS"] == "1" and env["RAY_TLS_SERVER_KEY"] == str(d / tls.NODE_KEY)
    assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN_PATH"] == str(d / tls.AUTH_TOKEN)
    assert b"PRIVATE KEY" not in b"".join((d / n).read_bytes() for n in (tls.CA_CERT, tls.NODE_CERT))


def test_no_certs_means_no_tls_env(tmp_path: Path) -> None:
    assert tls.ray_tls_env(tmp_path / "nothing") == {}


def test_never_overwritten_without_force(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (tls.cert_dir(home) / tls.NODE_KEY).read_bytes()
    rc, _, err = run_cli(capsys, "cluster", "certs", "--home", str(home))
    assert_one_line_error(rc, err, "already holds cluster certificates")
    assert (tls.cert_dir(home) / tls.NODE_KEY).read_bytes() == before
    rc, out, _ = run_cli(capsys, "cluster", "certs", "--home", str(home), "--force", "--host", "10.0.0.6")
    assert rc == 0 and "10.0.0.6" in out and "copy" in out
    assert (tls.cert_dir(home) / tls.NODE_KEY).read_bytes() != before
    assert not [p for p in home.iterdir() if p.name.startswith(".")]  # no leftover of the swap


def test_force_replaces_a_planted_symlink_without_following_it(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("x")
    shutil.rmtree(tls.cert_dir(home))
    tls.cert_dir(home).symlink_to(elsewhere)
    tls.make_certs(home, force=True)
    assert not tls.cert_dir(home).is_symlink() and (elsewhere / "keep").exists()
    assert not (elsewhere / tls.NODE_KEY).exists()


@pytest.mark.parametrize("target", ["dir", tls.NODE_KEY, tls.CA_CERT])
def test_loosened_permissions_are_refused(home: Path, target: str) -> None:
    p = tls.cert_dir(home) if target == "dir" else tls.cert_dir(home) / target
    os.chmod(p, 0o755 if target == "dir" else 0o644)
    with pytest.raises(AccessDenied, match="readable or writable by others"):
        tls.ray_tls_env(home)


def test_cli_refuses_a_loosened_key_in_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chmod(tls.cert_dir(home) / tls.NODE_KEY, 0o640)
    rc, _, err = run_cli(capsys, "cluster", "status", "--home", str(home))
    assert_one_line_error(rc, err, "node.key", code=AccessDenied.exit_code)


def test_symlinked_dir_or_file_is_refused(home: Path, tmp_path: Path) -> None:
    d = tls.cert_dir(home)
    real = tmp_path / "real-certs"
    shutil.copytree(d, real)
    os.chmod(real, 0o700)
    shutil.rmtree(d)
    d.symlink_to(real)
    with pytest.raises(AccessDenied, match="symbolic link"):
        tls.load_certs(home)
    d.unlink()
    shutil.copytree(real, d)
    os.chmod(d, 0o700)
    (d / tls.CA_CERT).unlink()
    (d / tls.CA_CERT).symlink_to(real / tls.CA_CERT)  # an attacker's CA in place of ours
    with pytest.raises(AccessDenied, match="symbolic link"):
        tls.load_certs(home)


@pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")
def test_another_owner_is_refused(home: Path) -> None:
    os.chown(tls.cert_dir(home) / tls.NODE_CERT, 12345, 12345)
    with pytest.raises(AccessDenied, match="another user"):
        tls.load_certs(home)


@pytest.mark.parametrize("name", [tls.CA_CERT, tls.NODE_CERT, tls.NODE_KEY, tls.AUTH_TOKEN])
def test_truncated_file_is_refused(home: Path, name: str) -> None:
    p = tls.cert_dir(home) / name
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(IntegrityError, match=name):
        tls.load_certs(home)


def test_empty_or_missing_file_is_refused(home: Path) -> None:
    (tls.cert_dir(home) / tls.NODE_CERT).write_bytes(b"")
    with pytest.raises(IntegrityError, match="empty"):
        tls.load_certs(home)
    (tls.cert_dir(home) / tls.NODE_CERT).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        tls.load_certs(home)


def test_mixed_sets_are_refused(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    tls.make_certs(other)
    mine = tls.cert_dir(home)
    shutil.copy2(tls.cert_dir(other) / tls.NODE_CERT, mine / tls.NODE_CERT)  # signed by another CA
    with pytest.raises(IntegrityError, match="not signed by"):
        tls.load_certs(home)
    shutil.copy2(tls.cert_dir(other) / tls.CA_CERT, mine / tls.CA_CERT)  # now consistent, but the key is ours
    with pytest.raises(IntegrityError, match="does not belong"):
        tls.load_certs(home)


def test_hostile_host_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not an IP address or host name"):
        tls.make_certs(tmp_path / "h", ["10.0.0.5; rm -rf /"])
    assert not (tmp_path / "h").exists()


def test_a_home_with_certificates_can_still_become_a_vault(home: Path) -> None:
    layout.check_new_home(home)  # `appliance cluster certs` before `appliance init` is a normal order


def test_doctor_cluster_refuses_a_malformed_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "doctor", "--home", str(tmp_path), "--cluster", "no-port-here")
    assert_one_line_error(rc, err, "is not HOST:PORT")


def test_doctor_cluster_unreachable_is_one_failed_check(tmp_path: Path) -> None:
    checks = cluster_checks(tmp_path, "127.0.0.1:1")
    assert [(c.name, c.status) for c in checks] == [("cluster reachable", "fail")]
    assert "does not answer" in checks[0].detail


@pytest.mark.parametrize("hosts, days", [(["-"], 825), (["-x.example"], 825), (["a b"], 825), ([], 0), ([], 99_999_999)])
def test_hostile_hosts_and_lifetimes_are_one_line_refusals(tmp_path: Path, hosts: list[str], days: int) -> None:
    """A host that is an option or not a name, and a lifetime past any date (it overflowed to a traceback)."""
    with pytest.raises(BadInput):
        tls.make_certs(tmp_path / "h", hosts, days=days)
    assert not (tmp_path / "h" / "cluster").exists()


@pytest.mark.parametrize("join, node_ip", [("--head", None), ("10.0.0.5", None), (None, "--block"), (None, "a;b")])
def test_start_refuses_a_join_address_or_node_ip_that_is_not_one(join, node_ip, tmp_path: Path) -> None:
    """`ray start` never receives an option in place of an address: checked before Ray runs."""
    from appliance.cluster import node

    with pytest.raises(BadInput):
        node.start_args(tmp_path / "h", 6379, None, node_ip, join)
