"""TLS for Ray's connections: certificates made by ``appliance cluster certs`` and kept 0600 under the home.

Ray encrypts and mutually authenticates its gRPC connections when every process (head, worker nodes, the driver)
runs with ``RAY_USE_TLS=1`` and the three paths ``RAY_TLS_SERVER_CERT``, ``RAY_TLS_SERVER_KEY`` and
``RAY_TLS_CA_CERT``. One private CA signs one node certificate that names every host of the cluster; the CA's key
is thrown away once it has signed, so nothing on disk can mint another certificate this cluster trusts (adding a
host means making a new set with ``--force`` and copying it to every node). The node key is what lets a machine
join: it is kept owner-only, and a directory or file that others could read, swap or replace is refused before
Ray sees it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import secrets
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from appliance.errors import AccessDenied, BadInput, IntegrityError
from appliance.paths import CLUSTER_DIR

CA_CERT = "ca.crt"
NODE_CERT = "node.crt"
NODE_KEY = "node.key"
AUTH_TOKEN = "auth.token"  # Ray's own token authentication (RAY_AUTH_MODE=token), kept beside the certificates
FILES = (CA_CERT, NODE_CERT, NODE_KEY, AUTH_TOKEN)
VALID_DAYS = 825  # the longest lifetime common TLS clients accept for a leaf certificate
MAX_DAYS = 3650  # asked for more, a set outlives any review of who holds its node key
MAX_PEM_BYTES = 64 << 10


@dataclass(frozen=True)
class ClusterCerts:
    """The verified certificate set of a home: the paths Ray reads, the hosts the node certificate names."""

    directory: Path
    hosts: tuple[str, ...]
    not_after: datetime.datetime

    @property
    def ca_cert(self) -> Path:
        return self.directory / CA_CERT

    @property
    def node_cert(self) -> Path:
        return self.directory / NODE_CERT

    @property
    def node_key(self) -> Path:
        return self.directory / NODE_KEY

    @property
    def auth_token(self) -> Path:
        return self.directory / AUTH_TOKEN


def cert_dir(home: Path) -> Path:
    """Where a home keeps its cluster certificates (created only by ``make_certs``)."""
    return home / CLUSTER_DIR


def _own_addresses() -> list[str]:
    """This machine's routable addresses as Ray picks them: it replaces 127.0.0.1 by the address of the interface
    that routes outwards (a UDP "connect" sends nothing) and by the host name's address."""
    found: list[str] = []
    for probe in ("8.8.8.8", "2001:4860:4860::8888"):
        family = socket.AF_INET6 if ":" in probe else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 80))
                found.append(s.getsockname()[0])
        except OSError:
            pass
    try:
        found.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    return found


_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")


def is_host(text: str) -> bool:
    """An IP address (v4 or v6) or a host name (letters, digits, dots and hyphens, not starting with a hyphen): what
    a certificate, a cluster address or ``ray start --node-ip-address`` may name."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST.match(text))


def _host_names(hosts: Sequence[str]) -> list[str]:
    """The hosts a node certificate must name: those given, this machine and the loopback address, each once."""
    found = [h.strip() for h in hosts if h.strip()]
    for h in found:
        if not is_host(h):
            raise BadInput(f"host {h[:80]!r} is not an IP address or host name")
    extra = ["127.0.0.1", "localhost", socket.gethostname(), *_own_addresses()]
    out: list[str] = []
    for h in found + extra:
        if h not in out:
            out.append(h)
    return out


def _san(hosts: Sequence[str]):  # noqa: ANN202 (cryptography's SubjectAlternativeName)
    """Every host as a DNS name, and IP addresses also as IP entries: gRPC matches the address Ray dials against
    either form, depending on its version."""
    from cryptography import x509

    names: list[x509.GeneralName] = []
    for h in hosts:
        names.append(x509.DNSName(h))
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            pass
    return x509.SubjectAlternativeName(names)


def _build(hosts: Sequence[str], days: int) -> dict[str, bytes]:
    """A fresh CA, a node certificate signed by it and its key, as PEM bytes per file name (the CA key is not among
    them), and a random token for Ray's token authentication."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)  # small clock skew between nodes
    until = now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appliance cluster CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(until)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    node = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appliance cluster node")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(_san(hosts), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return {
        CA_CERT: ca.public_bytes(serialization.Encoding.PEM),
        NODE_CERT: node.public_bytes(serialization.Encoding.PEM),
        NODE_KEY: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()),
        AUTH_TOKEN: secrets.token_hex(32).encode(),
    }


def make_certs(home: Path, hosts: Sequence[str] = (), force: bool = False, days: int = VALID_DAYS) -> ClusterCerts:
    """Make the CA and the node certificate for ``hosts`` under the home: files 0600 in a 0700 directory, written
    beside it and renamed into place, so a failure leaves the old set (or none), never half of one. An existing
    set is kept unless ``force``."""
    if not 1 <= days <= MAX_DAYS:
        raise BadInput(f"days must be 1..{MAX_DAYS}, not {days}")
    d = cert_dir(home)
    if os.path.lexists(d) and not force:
        raise BadInput(f"{d} already holds cluster certificates; keep them, or make a new set with force "
                       "(then copy it to every node again)")
    names = _host_names(hosts)
    pems = _build(names, days)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    new = home / f".{CLUSTER_DIR}.{os.getpid()}.new"
    old = home / f".{CLUSTER_DIR}.{os.getpid()}.old"
    for leftover in (new, old):
        shutil.rmtree(leftover, ignore_errors=True)
    os.mkdir(new, 0o700)
    try:
        for name, data in pems.items():
            fd = os.open(new / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if os.path.lexists(d):
            os.rename(d, old)  # a symlink or a foreign directory in its place goes aside, unread
        os.rename(new, d)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if os.path.lexists(old):
        if os.path.islink(old):
            os.unlink(old)
        else:
            shutil.rmtree(old, ignore_errors=True)
    certs = load_certs(home)
    assert certs is not None
    return certs


def _check_private(path: Path, st: os.stat_result, kind: str) -> None:
    """Refuse what another local user could have planted, swapped or read."""
    if stat.S_ISLNK(st.st_mode):
        raise AccessDenied(f"{path} is a symbolic link; cluster certificates must be the {kind} itself")
    is_kind = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not is_kind(st.st_mode):
        raise AccessDenied(f"{path} is not a {'regular file' if kind == 'file' else kind}")
    if st.st_uid != os.getuid():
        raise AccessDenied(f"{path} belongs to another user (uid {st.st_uid}); make the certificates again as this user")
    if st.st_mode & 0o077:
        raise AccessDenied(f"{path} is readable or writable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                           f"it must be {'0700' if kind == 'directory' else '0600'}")


def _read_private(path: Path) -> bytes:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise IntegrityError(f"{path} is missing: the cluster certificate set is incomplete; make a new one") from None
    _check_private(path, st, "file")
    if st.st_size == 0 or st.st_size > MAX_PEM_BYTES:
        raise IntegrityError(f"{path} is {'empty' if st.st_size == 0 else 'too large'}: not a certificate file")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_PEM_BYTES + 1)


def load_certs(home: Path) -> ClusterCerts | None:
    """The home's certificate set after checking it is private, whole and consistent (the node certificate is
    signed by the CA, matches its key and is in date); ``None`` when the home has none. Anything else is a one-line
    refusal: AccessDenied for files others could read or replace, IntegrityError for damaged or mismatched ones."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    d = cert_dir(home)
    try:
        st = os.lstat(d)
    except FileNotFoundError:
        return None
    _check_private(d, st, "directory")
    raw = {name: _read_private(d / name) for name in FILES}
    try:
        ca = x509.load_pem_x509_certificate(raw[CA_CERT])
    except ValueError:
        raise IntegrityError(f"{d / CA_CERT} is damaged or truncated: not a PEM certificate") from None
    try:
        node = x509.load_pem_x509_certificate(raw[NODE_CERT])
    except ValueError:
        raise IntegrityError(f"{d / NODE_CERT} is damaged or truncated: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(raw[NODE_KEY], password=None)
    except (ValueError, TypeError):
        raise IntegrityError(f"{d / NODE_KEY} is damaged, truncated or passphrase-protected: not a usable key") from None
    try:
        node.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise IntegrityError(f"{d / NODE_CERT} was not signed by {d / CA_CERT}: the set is mixed; make a new one") from None
    if node.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise IntegrityError(f"{d / NODE_KEY} does not belong to {d / NODE_CERT}: the set is mixed; make a new one")
    now = datetime.datetime.now(datetime.timezone.utc)
    if not node.not_valid_before_utc <= now <= node.not_valid_after_utc:
        raise BadInput(f"{d / NODE_CERT} is valid only from {node.not_valid_before_utc:%Y-%m-%d} to "
                       f"{node.not_valid_after_utc:%Y-%m-%d}; make a new set with force")
    try:
        sans = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = tuple(sans.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        hosts = ()
    token = raw[AUTH_TOKEN].strip()
    if len(token) < 32 or not token.isalnum():
        raise IntegrityError(f"{d / AUTH_TOKEN} is damaged or truncated: not a cluster token; make a new set")
    return ClusterCerts(d, hosts, node.not_valid_after_utc)


def ray_tls_env(home: Path) -> dict[str, str]:
    """The environment variables that turn on TLS for Ray in this process and the Ray processes it starts
    (``RAY_USE_TLS`` and the certificate paths, and Ray's token authentication with the set's token instead of one
    in ``~/.ray``), or ``{}`` when the home has no cluster certificates. A set that is not private or not whole is
    refused here, before Ray reads it."""
    certs = load_certs(home)
    if certs is None:
        return {}
    return {
        "RAY_USE_TLS": "1",
        "RAY_TLS_SERVER_CERT": str(certs.node_cert),
        "RAY_TLS_SERVER_KEY": str(certs.node_key),
        "RAY_TLS_CA_CERT": str(certs.ca_cert),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(certs.auth_token),
    }


def copy_instructions(certs: ClusterCerts) -> str:
    """How to give another node this set: the same files, same modes, under that node's home."""
    rel = certs.directory.name
    return (f"copy {certs.directory} to every node's home, keeping it private, e.g.\n"
            f"  ssh NODE 'umask 077; mkdir -p HOME' && scp -rp {certs.directory} NODE:HOME/{rel}\n"
            f"  (then on NODE: chmod 700 HOME/{rel} && chmod 600 HOME/{rel}/*)\n"
            f"the node key lets a machine join the cluster: never copy it anywhere else")
