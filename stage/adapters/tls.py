"""The stage's own certificate authority, its server certificate, and the check ``stage serve`` makes of them.

Browsers give WebCodecs and the wake lock only to a secure origin, and a
token sent over plain HTTP crosses the stage network in clear.  A stage
network has no public name a public authority would certify, so the stage
is its own: ``stage tls init`` makes a certificate authority once (kept in
its directory and reused, so devices that trust it go on trusting it) and,
each run, a server certificate for the machine's names and addresses signed
by it.  Devices trust the authority once (docs/tls.md); ``stage serve``
checks the certificate, its key and the authority before it listens, so a
wrong file is a clear start-up error rather than a browser's warning page.

The only module that imports ``cryptography``.  Every time is an argument.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import plistlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stage.errors import TlsError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
PrivateKey = ec.EllipticCurvePrivateKey

CA_DAYS = 3650  # the authority outlives many server certificates: devices trust it once
LEAF_DAYS = 397
MAX_LEAF_DAYS = 398  # browsers and Apple refuse server certificates valid for longer
BACKDATE = timedelta(hours=1)  # a tablet whose clock is a little behind still accepts a certificate made just now
EXPIRY_WARNING = timedelta(days=30)
# The files of a stage tls init directory.
CA_PEM, CA_KEY, CA_DER, PROFILE = "ca.pem", "ca.key", "ca.crt", "stage.mobileconfig"
CERT, KEY = "stage.pem", "stage.key"
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


# -- names -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """What a server certificate names: host names and addresses."""

    dns: tuple[str, ...]
    ips: tuple[Address, ...]

    def covers(self, host: str) -> bool:
        """True when a browser opening ``host`` (a name or an address) accepts a certificate naming these."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            wanted = host.rstrip(".").lower()
            return any(n == wanted or (n.startswith("*.") and wanted.partition(".")[2] == n[2:]) for n in self.dns)
        return address in self.ips

    def __str__(self) -> str:
        return ", ".join([*self.dns, *(str(a) for a in self.ips)])


def dns_name(text: str) -> str:
    """``text`` as a host name a certificate may carry (lower case); :class:`TlsError` saying why not."""
    name = text.rstrip(".").lower()
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(name.strip("[]"))
        raise TlsError(f"--name {text}: that is an address: give it with --ip")
    if not name.isascii():
        raise TlsError(f"--name {text}: write an international name in its ASCII form (xn--…)")
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise TlsError(f"--name {text!r}: not a host name (letters, digits and '-' in dot-separated labels)")
    return name


def ip_address(text: str) -> Address:
    """``text`` as an address; :class:`TlsError` saying why not."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise TlsError(f"--ip {text}: not an IPv4 or IPv6 address (a name goes with --name)") from None


def names_of(dns: Iterable[str], ips: Iterable[str]) -> Names:
    """The names and addresses given, checked, each once and in order."""
    return Names(tuple(dict.fromkeys(dns_name(n) for n in dns)), tuple(dict.fromkeys(ip_address(a) for a in ips)))


def default_names(hostname: str, addresses: Iterable[str]) -> Names:
    """This machine's names (its host name, ``<host>.local``, ``stage.local``, localhost) and addresses, loopback
    included; a host name no certificate may carry is left out."""
    dns: list[str] = []
    for name in (hostname, f"{hostname.partition('.')[0]}.local", "stage.local", "localhost"):
        with contextlib.suppress(TlsError):
            dns.append(dns_name(name))
    ips = [a for a in (ipaddress.ip_address(x) for x in (*addresses, "127.0.0.1", "::1")) if not a.is_link_local]
    return Names(tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips)))


def _names(cert: x509.Certificate) -> Names:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Names((), ())
    return Names(tuple(n.lower() for n in san.get_values_for_type(x509.DNSName)),
                 tuple(a for a in san.get_values_for_type(x509.IPAddress) if isinstance(a, Address)))


# -- the authority and the server certificate ---------------------------------------------------


@dataclass(frozen=True)
class Root:
    """The authority's certificate as devices install it."""

    name: str
    pem: bytes
    der: bytes
    fingerprint: str  # SHA-256, "AB:CD:…", as devices show it
    not_after: datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> Root:
        """The root of an authority's certificate."""
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        digest = cert.fingerprint(hashes.SHA256())
        return cls(str(names[0].value) if names else cert.subject.rfc4514_string(),
                   cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER),
                   ":".join(f"{b:02X}" for b in digest), cert.not_valid_after_utc)


@dataclass(frozen=True)
class Authority:
    """The stage's certificate authority: its certificate and its key."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def root(self) -> Root:
        """What devices install."""
        return Root.of(self.certificate)


def make_authority(label: str, now: datetime, days: int = CA_DAYS) -> Authority:
    """A new authority named ``stage authority on <label>`` (with the day: two made on one machine differ)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stage"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"stage authority on {label} ({now:%Y-%m-%d})")])
    start = now - BACKDATE
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + timedelta(days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def _can_issue(names: Names, days: int) -> None:
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise TlsError(f"--days {days}: a server certificate lasts 1 to {MAX_LEAF_DAYS} days (browsers refuse longer)")
    if not names.dns and not names.ips:
        raise TlsError("a certificate must name at least one host: give --name or --ip")


def issue(
    authority: Authority, names: Names, now: datetime, days: int = LEAF_DAYS
) -> tuple[x509.Certificate, PrivateKey]:
    """A server certificate for ``names``, valid ``days`` from an hour ago (never past the authority), and its key."""
    _can_issue(names, days)
    key = ec.generate_private_key(ec.SECP256R1())
    ca = authority.certificate
    start = now - BACKDATE
    end = min(start + timedelta(days), ca.not_valid_after_utc)
    first = names.dns[0] if names.dns else str(names.ips[0])
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in names.dns]
    san += [x509.IPAddress(a) for a in names.ips]
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stage"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, first)]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    return cert, key


def profile(root: Root) -> bytes:
    """An iPad's or iPhone's configuration profile (``.mobileconfig``) that installs ``root`` as a trusted root.

    Its identifiers come from the root's fingerprint: installing it again replaces it rather than adding a copy.
    """
    tag = root.fingerprint.replace(":", "").lower()
    ident = f"local.stage.authority.{tag[:16]}"
    payload = {
        "PayloadCertificateFileName": "stage-ca.crt",
        "PayloadContent": root.der,
        "PayloadDescription": "The certificate authority of the stage's own pages (HTTPS on the stage network).",
        "PayloadDisplayName": root.name,
        "PayloadIdentifier": f"{ident}.root",
        "PayloadType": "com.apple.security.root",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"stage-root:{tag}")).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps({
        "PayloadContent": [payload],
        "PayloadDescription": f"Trusts {root.name} (SHA-256 {root.fingerprint}) for the stage's pages over HTTPS.",
        "PayloadDisplayName": f"stage: {root.name}",
        "PayloadIdentifier": ident,
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"stage-profile:{tag}")).upper(),
        "PayloadVersion": 1,
    }, fmt=plistlib.FMT_XML)


# -- files ---------------------------------------------------------------------------------------


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _certificates(path: Path, what: str) -> list[x509.Certificate]:
    data = _read(path, what)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsError(f"{what} {path} is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)") from None


def _key(path: Path, what: str) -> PrivateKey:
    data = _read(path, what)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsError(f"{what} {path} is encrypted with a passphrase: stage needs it unencrypted, readable by "
                       "its own user only (chmod 600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TlsError(f"{what} {path} is not a PEM private key (expected -----BEGIN PRIVATE KEY-----)") from None
    if not isinstance(key, PrivateKey):
        raise TlsError(f"{what} {path} is a {type(key).__name__}, not an elliptic-curve key as stage tls init makes")
    return key


def _same_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it), created with ``mode``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.chmod(mode)  # whatever the umask took away or added
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_authority(directory: Path, now: datetime) -> Authority | None:
    """The authority kept in ``directory`` (None when there is none), checked: whole, matching, a CA, in date."""
    cert_path, key_path = directory / CA_PEM, directory / CA_KEY
    if not cert_path.exists() and not key_path.exists():
        return None
    for have, lack in ((cert_path, key_path), (key_path, cert_path)):
        if not lack.exists():
            raise TlsError(f"{have} is there but {lack.name} is not: an authority needs both (devices may trust this "
                           f"one: put {lack.name} back, or move {directory} away to make a new authority)")
    cert = _certificates(cert_path, "the authority's certificate")[0]
    key = _key(key_path, "the authority's key")
    if not _same_key(cert, key):
        raise TlsError(f"{key_path} is not the key of {cert_path}: put the pair back together")
    if not _is_ca(cert):
        raise TlsError(f"{cert_path} is not a certificate authority (its basic constraints say CA:FALSE)")
    if now > cert.not_valid_after_utc:
        raise TlsError(f"the authority {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}: move {directory} "
                       "away and run stage tls init again for a new one (every device must then trust the new one)")
    return Authority(cert, key)


@dataclass(frozen=True)
class Made:
    """What ``stage tls init`` made: the authority (kept or new), the server certificate and the files."""

    directory: Path
    root: Root
    kept: bool  # the directory's authority was reused
    names: Names
    not_after: datetime

    def path(self, name: str) -> Path:
        """One of the files, by name (:data:`CERT`, :data:`KEY`, :data:`CA_PEM` …)."""
        return self.directory / name


def init(directory: Path, names: Names, now: datetime, label: str, days: int = LEAF_DAYS) -> Made:
    """Keep (or make) the authority in ``directory`` and write a new server certificate for ``names`` beside it.

    Written there: ``ca.pem`` and ``ca.key`` (the authority; the key 0600),
    ``ca.crt`` (its certificate as DER, what Android and Windows install),
    ``stage.mobileconfig`` (the iPad's profile), ``stage.pem`` and
    ``stage.key`` (the server's; the key 0600).  Each file is replaced whole.
    """
    _can_issue(names, days)
    if directory.exists() and not directory.is_dir():
        raise TlsError(f"{directory} is not a directory: give --dir a directory (made if it is missing)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TlsError(f"cannot make the directory {directory}: {exc.strerror or exc}") from None
    authority = load_authority(directory, now)
    kept = authority is not None
    if authority is None:
        authority = make_authority(label, now)
    cert, key = issue(authority, names, now, days)  # before anything is written: a refusal leaves the files alone
    root = authority.root
    try:
        if not kept:
            _write(directory / CA_KEY, _pem_key(authority.key), 0o600)
            _write(directory / CA_PEM, root.pem)
        _write(directory / CA_DER, root.der)
        _write(directory / PROFILE, profile(root))
        _write(directory / KEY, _pem_key(key), 0o600)
        _write(directory / CERT, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise TlsError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    return Made(directory, root, kept, names, cert.not_valid_after_utc)


# -- what stage serve checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerTls:
    """A checked certificate and key for ``stage serve``, what it names, and the authority's root when given."""

    certificate: Path
    key: Path
    names: Names
    not_after: datetime
    root: Root | None
    warnings: tuple[str, ...]


def server_tls(certificate: Path, key: Path, authority: Path | None, host: str, announced: Sequence[str],
               now: datetime) -> ServerTls:
    """Check what ``[http]`` names before serving HTTPS on ``host``; :class:`TlsError` saying what is wrong.

    The certificate must be readable, in date, for a server, with the key
    given, and name ``host`` (for a wildcard host: at least one of the
    ``announced`` addresses the pages are offered at); with ``authority``,
    signed by it.
    """
    chain = _certificates(certificate, "[http] certificate")
    cert = chain[0]
    if _is_ca(cert):
        raise TlsError(f"[http] certificate {certificate} is a certificate authority, not a server's certificate "
                       f"(give {CERT}, not {CA_PEM})")
    private = _key(key, "[http] key")
    if not _same_key(cert, private):
        raise TlsError(f"[http] key {key} is not the key of the certificate {certificate}: give the pair "
                       "stage tls init wrote together (stage.pem, stage.key)")
    if now < cert.not_valid_before_utc:
        raise TlsError(f"[http] certificate {certificate} is not valid until {cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
                       f" UTC (this machine's clock says {now:%Y-%m-%d %H:%M})")
    if now > cert.not_valid_after_utc:
        raise TlsError(f"[http] certificate {certificate} expired on {cert.not_valid_after_utc:%Y-%m-%d}: run "
                       "stage tls init again for a new one")
    with contextlib.suppress(x509.ExtensionNotFound):
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.SERVER_AUTH not in usage:
            raise TlsError(f"[http] certificate {certificate} is not for a server (its extended key usage lacks "
                           "serverAuth)")
    names = _names(cert)
    if not names.dns and not names.ips:
        raise TlsError(f"[http] certificate {certificate} names no host in subjectAltName (browsers ignore its "
                       "common name): run stage tls init")
    _check_host(names, host, announced, certificate)
    root = _check_authority(cert, authority, certificate, now) if authority is not None else None
    warnings: list[str] = []
    if cert.not_valid_after_utc - now < EXPIRY_WARNING:
        warnings.append(f"the certificate {certificate} expires on {cert.not_valid_after_utc:%Y-%m-%d}: run "
                        "stage tls init again before then")
    if key.stat().st_mode & 0o077:
        warnings.append(f"the key {key} can be read by others (mode {key.stat().st_mode & 0o777:o}): chmod 600 it")
    return ServerTls(certificate, key, names, cert.not_valid_after_utc, root, tuple(warnings))


def _check_host(names: Names, host: str, announced: Sequence[str], certificate: Path) -> None:
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 -- recognised, not bound to
        if announced and not any(names.covers(a) for a in announced):
            raise TlsError(f"[http] certificate {certificate} names {names}, none of this machine's addresses "
                           f"({', '.join(announced)}) a device would open: run stage tls init on this machine")
    elif not names.covers(host):
        raise TlsError(f"[http] certificate {certificate} names {names}, not [http] host {host}: run "
                       f"stage tls init with --name or --ip {host}, or set host to a name it carries")


def _check_authority(cert: x509.Certificate, authority: Path, certificate: Path, now: datetime) -> Root:
    ca = _certificates(authority, "[http] authority")[0]
    if not _is_ca(ca):
        raise TlsError(f"[http] authority {authority} is not a certificate authority (give {CA_PEM})")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise TlsError(f"[http] certificate {certificate} was not signed by the authority {authority}: devices "
                       "that trust it would refuse the stage") from None
    if now > ca.not_valid_after_utc:
        raise TlsError(f"[http] authority {authority} expired on {ca.not_valid_after_utc:%Y-%m-%d}")
    return Root.of(ca)
