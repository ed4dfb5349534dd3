"""``stage tls init`` and the check ``stage serve`` makes of a certificate: read back with ``cryptography`` and with
the ``openssl`` command, every refusal a clear line that leaves the files as they were."""

from __future__ import annotations

import ipaddress
import json
import plistlib
import re
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from stagerig import require

from stage import app
from stage.adapters import tls
from stage.adapters.trust import redirect_target
from stage.cli import main
from stage.config import load_config
from stage.errors import ConfigError, TlsError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def openssl(*argv: str | Path) -> str:
    exe = require("openssl", "openssl")
    done = subprocess.run([exe, *(str(a) for a in argv)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def ext(c: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return c.extensions.get_extension_for_class(kind)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# -- stage tls init ---------------------------------------------------------------------------------------------


def test_init_makes_an_authority_and_a_server_certificate_browsers_accept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    d = tmp_path / "tls"
    code, out, err = run(capsys, "tls", "init", "--dir", d, "--name", "stage.local", "--name", "Scoring-A",
                         "--ip", "10.1.2.3", "--ip", "fd00::5", "--days", "30")
    assert (code, err) == (0, "")
    assert sorted(p.name for p in d.iterdir()) == ["ca.crt", "ca.key", "ca.pem", "stage.key", "stage.mobileconfig",
                                                   "stage.pem"]
    for key in ("ca.key", "stage.key"):
        assert (d / key).stat().st_mode & 0o777 == 0o600, key
    for public in ("ca.pem", "ca.crt", "stage.pem", "stage.mobileconfig"):
        assert (d / public).stat().st_mode & 0o777 == 0o644, public

    # The chain, as openssl sees it: the server certificate verifies against the authority alone, for a TLS server.
    assert openssl("verify", "-CAfile", d / "ca.pem", "-purpose", "sslserver", d / "stage.pem").strip() == \
        f"{d / 'stage.pem'}: OK"
    text = openssl("x509", "-in", d / "stage.pem", "-noout", "-ext",
                   "subjectAltName,extendedKeyUsage,basicConstraints,keyUsage")
    assert "DNS:stage.local, DNS:scoring-a, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:5" in text
    assert "TLS Web Server Authentication" in text
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE", text)
    assert re.search(r"Key Usage: critical\s+Digital Signature\n", text)
    ca_text = openssl("x509", "-in", d / "ca.pem", "-noout", "-ext", "basicConstraints,keyUsage")
    assert re.search(r"Basic Constraints: critical\s+CA:TRUE, pathlen:0", ca_text)
    assert re.search(r"Key Usage: critical\s+Certificate Sign, CRL Sign", ca_text)
    # The DER copy is the same certificate.
    fingerprint = openssl("x509", "-in", d / "ca.pem", "-noout", "-fingerprint", "-sha256").strip()
    assert openssl("x509", "-inform", "DER", "-in", d / "ca.crt", "-noout", "-fingerprint", "-sha256").strip() == \
        fingerprint
    assert fingerprint.split("=")[1] in out

    # The same, read with cryptography: validity, keys, identifiers.
    leaf, ca = cert(d / "stage.pem"), cert(d / "ca.pem")
    leaf.verify_directly_issued_by(ca)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == timedelta(days=30)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc == timedelta(days=3650)
    now = datetime.now(UTC)
    assert leaf.not_valid_before_utc <= now - timedelta(minutes=59)  # a tablet a little behind accepts it
    assert ext(leaf, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    san = ext(leaf, x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["stage.local", "scoring-a"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(a) for a in ("10.1.2.3", "fd00::5")]
    aki = ext(leaf, x509.AuthorityKeyIdentifier).value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert aki.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.key_identifier  # type: ignore[attr-defined]
    private = serialization.load_pem_private_key((d / "stage.key").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert private.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]

    # The iPad's profile: one com.apple.security.root payload carrying the authority's DER.
    profile = plistlib.loads((d / "stage.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration"
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == (d / "ca.crt").read_bytes() == ca.public_bytes(serialization.Encoding.DER)
    assert payload["PayloadUUID"] != profile["PayloadUUID"]

    # What to add to the config, as lines a config file takes.
    lines = out.split("Add to the config's [http]:\n")[1].splitlines()
    assert lines == [f'certificate = "{d / "stage.pem"}"', f'key = "{d / "stage.key"}"',
                     f'authority = "{d / "ca.pem"}"']


def test_init_again_keeps_the_authority_and_certifies_new_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    d = tmp_path / "tls"
    assert run(capsys, "tls", "init", "--dir", d, "--ip", "10.1.2.3")[0] == 0
    first = snapshot(d)
    old_leaf = cert(d / "stage.pem")
    code, out, _ = run(capsys, "tls", "init", "--dir", d, "--ip", "10.9.9.9", "--name", "stage.local")
    assert code == 0
    assert "authority (kept)" in out
    again = snapshot(d)
    for kept in ("ca.pem", "ca.key", "ca.crt", "stage.mobileconfig"):  # devices that trust it go on trusting it
        assert again[kept] == first[kept], kept
    leaf = cert(d / "stage.pem")
    assert leaf.serial_number != old_leaf.serial_number
    assert again["stage.key"] != first["stage.key"]
    assert openssl("verify", "-CAfile", d / "ca.pem", d / "stage.pem").strip().endswith(": OK")
    san = ext(leaf, x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert [str(n.value) for n in san] == ["stage.local", "10.9.9.9"]


def test_init_by_default_names_this_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = json.loads(subprocess.run(["ip", "-j", "address"], capture_output=True, text=True, check=True).stdout)
    addresses = {ipaddress.ip_address(a["local"]) for link in listed for a in link.get("addr_info", [])}
    assert run(capsys, "tls", "init", "--dir", tmp_path)[0] == 0
    san = ext(cert(tmp_path / "stage.pem"), x509.SubjectAlternativeName).value
    assert isinstance(san, x509.SubjectAlternativeName)
    host = socket.gethostname().lower()
    assert set(san.get_values_for_type(x509.DNSName)) >= {host, f"{host.partition('.')[0]}.local", "stage.local",
                                                          "localhost"}
    # Every address of every interface, loopback too; not link-local ones (a URL cannot hold their zone).
    assert set(san.get_values_for_type(x509.IPAddress)) == {a for a in addresses if not a.is_link_local}


def expired_authority(d: Path) -> None:
    old = tls.make_authority("old", NOW - timedelta(days=4000))
    d.mkdir()
    (d / "ca.pem").write_bytes(old.root.pem)
    (d / "ca.key").write_bytes(old.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


def another_key(d: Path) -> None:
    assert main(["tls", "init", "--dir", str(d), "--ip", "10.0.0.1"]) == 0
    (d / "ca.key").write_bytes((d / "stage.key").read_bytes())


@pytest.mark.parametrize(("argv", "setup", "code", "message"), [
    (["--days", "399"], None, 1, "--days 399: a server certificate lasts 1 to 398 days (browsers refuse longer)"),
    (["--days", "0"], None, 2, "argument --days: 0 must be 1 or more"),
    (["--days", "a year"], None, 2, "argument --days: 'a year' is not a whole number"),
    (["--name", "stage_1"], None, 1, "--name 'stage_1': not a host name"),
    (["--name", "10.0.0.1"], None, 1, "--name 10.0.0.1: that is an address: give it with --ip"),
    (["--name", "bühne.local"], None, 1, "--name bühne.local: write an international name in its ASCII form"),
    (["--ip", "300.1.1.1"], None, 1, "--ip 300.1.1.1: not an IPv4 or IPv6 address (a name goes with --name)"),
    ([], lambda d: d.write_text("a file"), 1, "is not a directory"),
    ([], lambda d: (d.mkdir(), (d / "ca.pem").write_text("x")), 1,
     "ca.pem is there but ca.key is not: an authority needs both"),
    ([], lambda d: (d.mkdir(), (d / "ca.pem").write_text("x"), (d / "ca.key").write_text("y")), 1,
     "is not a PEM certificate (expected -----BEGIN CERTIFICATE-----)"),
    ([], another_key, 1, "ca.key is not the key of"),
    ([], expired_authority, 1, "expired on 2025-03-16: move"),
])
def test_init_refuses_with_one_line_and_leaves_the_files_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], setup: object, code: int, message: str,
) -> None:
    d = tmp_path / "tls"
    if callable(setup):
        setup(d)
        capsys.readouterr()
    before = snapshot(d) if d.is_dir() else None
    got, out, err = run(capsys, "tls", "init", "--dir", d, *argv)
    assert (got, out) == (code, "")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert (snapshot(d) if d.is_dir() else None) == before


def test_without_ip_the_machines_addresses_cannot_be_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `ip` to ask
    code, _, err = run(capsys, "tls", "init", "--dir", tmp_path / "tls")
    assert code == 1
    assert "cannot list this machine's addresses (the 'ip' command (iproute2) is not installed): name them with --ip" \
        in err
    assert not (tmp_path / "tls").exists()


def test_a_server_certificate_never_outlives_its_authority() -> None:
    authority = tls.make_authority("short", NOW, days=10)
    leaf, _ = tls.issue(authority, tls.names_of([], ["10.0.0.1"]), NOW, days=100)
    assert leaf.not_valid_after_utc == authority.certificate.not_valid_after_utc


# -- what stage serve checks ------------------------------------------------------------------------------------


@pytest.fixture
def made(tmp_path: Path) -> Path:
    assert main(["tls", "init", "--dir", str(tmp_path / "tls"), "--ip", "10.1.2.3", "--name", "stage.local"]) == 0
    return tmp_path / "tls"


def check(d: Path, host: str = "10.1.2.3", now: datetime | None = None, *, authority: bool = True,
          announced: tuple[str, ...] = ()) -> tls.ServerTls:
    return tls.server_tls(d / "stage.pem", d / "stage.key", d / "ca.pem" if authority else None, host, announced,
                          now or datetime.now(UTC))


def test_serve_accepts_what_init_made_and_knows_its_names(made: Path) -> None:
    checked = check(made)
    assert str(checked.names) == "stage.local, 10.1.2.3"
    assert checked.root is not None
    assert checked.root.der == (made / "ca.crt").read_bytes()
    assert checked.warnings == ()
    assert check(made, "STAGE.local.").names.covers("stage.local")
    assert check(made, "0.0.0.0", announced=("192.0.2.7", "10.1.2.3")).certificate == made / "stage.pem"
    soon = check(made, now=cert(made / "stage.pem").not_valid_after_utc - timedelta(days=3))
    end = cert(made / "stage.pem").not_valid_after_utc
    assert soon.warnings == (
        f"the certificate {made / 'stage.pem'} expires on {end:%Y-%m-%d}: run stage tls init again before then",)
    (made / "stage.key").chmod(0o644)
    assert check(made).warnings == (f"the key {made / 'stage.key'} can be read by others (mode 644): chmod 600 it",)


def test_serve_refuses_a_certificate_it_cannot_serve(made: Path, tmp_path: Path) -> None:
    leaf = cert(made / "stage.pem")
    other = tmp_path / "other"
    assert main(["tls", "init", "--dir", str(other), "--ip", "10.1.2.3"]) == 0
    cases: list[tuple[dict[str, object], str]] = [
        ({"host": "10.9.9.9"}, "names stage.local, 10.1.2.3, not [http] host 10.9.9.9: run stage tls init with --name"),
        ({"host": "0.0.0.0", "announced": ("192.0.2.7",)}, "none of this machine's addresses (192.0.2.7)"),
        ({"now": leaf.not_valid_after_utc + timedelta(seconds=1)},
         f"expired on {leaf.not_valid_after_utc:%Y-%m-%d}: run stage tls init again"),
        ({"now": leaf.not_valid_before_utc - timedelta(days=1)}, "is not valid until"),
    ]
    for kwargs, message in cases:
        with pytest.raises(TlsError, match=re.escape(message)):
            check(made, **kwargs)  # type: ignore[arg-type]
    swaps: list[tuple[str, Path, str]] = [
        ("stage.key", other / "stage.key", "is not the key of the certificate"),
        ("ca.pem", other / "ca.pem", "was not signed by the authority"),
        ("stage.pem", made / "ca.pem", "is a certificate authority, not a server's certificate (give stage.pem"),
        ("stage.pem", tmp_path, "cannot read [http] certificate"),
        ("stage.pem", tmp_path / "missing.pem", "cannot read [http] certificate"),
        ("stage.key", made / "stage.pem", "is not a PEM private key"),
    ]
    for name, replacement, message in swaps:
        files = {"stage.pem": made / "stage.pem", "stage.key": made / "stage.key", "ca.pem": made / "ca.pem",
                 name: replacement}
        with pytest.raises(TlsError, match=re.escape(message)):
            tls.server_tls(files["stage.pem"], files["stage.key"], files["ca.pem"], "10.1.2.3", (), datetime.now(UTC))
    locked = tmp_path / "locked.key"
    private = serialization.load_pem_private_key((made / "stage.key").read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    locked.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(TlsError, match="is encrypted with a passphrase"):
        tls.server_tls(made / "stage.pem", locked, None, "10.1.2.3", (), datetime.now(UTC))


def test_serve_refuses_a_client_certificate_and_one_that_names_no_host(tmp_path: Path) -> None:
    authority = tls.make_authority("t", NOW)
    key = ec.generate_private_key(ec.SECP256R1())
    for extension, message in [
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), "is not for a server (its extended key usage"),
        (x509.BasicConstraints(ca=False, path_length=None), "names no host in subjectAltName"),
    ]:
        built = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(authority.certificate.subject)
                 .public_key(key.public_key()).serial_number(1).not_valid_before(NOW)
                 .not_valid_after(NOW + timedelta(days=1)).add_extension(extension, critical=False)
                 .sign(authority.key, hashes.SHA256()))
        (tmp_path / "c.pem").write_bytes(built.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "c.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
        with pytest.raises(TlsError, match=re.escape(message)):
            tls.server_tls(tmp_path / "c.pem", tmp_path / "c.key", None, "10.0.0.1", (), NOW + timedelta(hours=1))


def test_the_config_names_the_files_relative_to_itself_and_refuses_half_a_pair(made: Path, tmp_path: Path) -> None:
    (tmp_path / "stage.toml").write_text('[http]\nhost = "10.1.2.3"\nport = 8443\nredirect_port = 8080\n'
                                         'certificate = "tls/stage.pem"\nkey = "tls/stage.key"\n'
                                         f'authority = "{made / "ca.pem"}"\n')
    config = load_config(tmp_path / "stage.toml")
    assert (config.http.certificate, config.http.key, config.http.authority) == (
        str(made / "stage.pem"), str(made / "stage.key"), str(made / "ca.pem"))
    checked = app.tls_of(config, datetime.now(UTC))
    assert checked is not None
    assert checked.root is not None
    assert app.tls_of(load_config(None), datetime.now(UTC)) is None
    for body, message in [
        ('certificate = "a.pem"', "certificate and key go together"),
        ("redirect_port = 8080", "authority and redirect_port need HTTPS"),
        ('certificate = "a.pem"\nkey = "a.key"\nport = 8080\nredirect_port = 8080', "is the HTTPS port itself"),
        ('certificate = "a.pem"\nkey = "a.key"\nport = 0\nredirect_port = 8080', "needs a fixed HTTPS port"),
    ]:
        (tmp_path / "bad.toml").write_text(f"[http]\n{body}\n")
        with pytest.raises(ConfigError, match=re.escape("bad.toml: [http]: ") + ".*" + re.escape(message)):
            load_config(tmp_path / "bad.toml")


def test_stage_serve_with_a_certificate_it_cannot_serve_says_why_and_exits(
    made: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "stage.toml").write_text('[midi]\nenabled = false\n[http]\nhost = "127.0.0.1"\n'
                                         'certificate = "tls/stage.pem"\nkey = "tls/stage.key"\n')
    capsys.readouterr()
    assert main(["serve", "--config", str(tmp_path / "stage.toml")]) == 1  # before anything starts
    assert capsys.readouterr().err == (
        f"stage serve: [http] certificate {made / 'stage.pem'} names stage.local, 10.1.2.3, not [http] host "
        "127.0.0.1: run stage tls init with --name or --ip 127.0.0.1, or set host to a name it carries\n")


# -- the plain port's redirect --------------------------------------------------------------------------------


def test_plain_http_is_sent_to_https_at_a_host_the_certificate_names() -> None:
    names = tls.names_of(["stage.local"], ["10.1.2.3", "fd00::5"])
    assert redirect_target("stage.local:8080", "/conductor?x=1", names, 8443, "10.1.2.3") == \
        "https://stage.local:8443/conductor?x=1"
    assert redirect_target("[fd00::5]:8080", "/", names, 8443, "10.1.2.3") == "https://[fd00::5]:8443/"
    assert redirect_target("10.1.2.3", "/musician", names, 443, "stage.local") == "https://10.1.2.3/musician"
    # A name the certificate does not carry would meet a warning: the host it names instead.
    assert redirect_target("other.lan:8080", "/", names, 8443, "10.1.2.3") == "https://10.1.2.3:8443/"
    assert redirect_target(None, "/", names, 8443, "fd00::5") == "https://[fd00::5]:8443/"
    assert redirect_target("[::1", "/", names, 8443, "10.1.2.3") == "https://10.1.2.3:8443/"  # no host at all
