"""Where other devices on the stage network reach this service: the addresses a pairing code's page is opened at.

``[http] host`` decides.  A loopback address (the default, 127.0.0.1) is
reachable from this machine only: no address.  A named address is itself.
The wildcard (``0.0.0.0`` or ``::``) listens everywhere, and the address
this machine sends from on its default route is the one a tablet on the
same network reaches it at (asked of the kernel with a UDP socket that is
connected but never sends); without a route, the machine's own name's
addresses, loopback left out.  Served over HTTPS, the addresses are
``https://`` ones.

:func:`machine_addresses` lists every address on the machine's interfaces
(``ip -j address``, from iproute2): what a certificate for it names.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import socket
import subprocess

WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 -- recognised, not bound to
PROBE = ("192.0.2.1", 9)  # any address off this machine: only the route to it is looked up


def _base(address: str, port: int, scheme: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}"


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _own_addresses() -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(PROBE)
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(sockaddr[0]))
    return [a for a in dict.fromkeys(found) if not _loopback(a)]


def page_bases(host: str, port: int, scheme: str = "http") -> tuple[str, ...]:
    """``http://address:port`` (or ``https://``) for each address another device can open this service's pages at
    (none: loopback)."""
    if host in WILDCARDS:
        return tuple(_base(a, port, scheme) for a in _own_addresses())
    if _loopback(host):
        return ()
    return (_base(host, port, scheme),)


def machine_addresses() -> list[str]:
    """Every address on this machine's interfaces, loopback and link-local ones included, as ``ip`` lists them.

    Raises :class:`OSError` when ``ip`` (iproute2) is missing or fails.
    """
    exe = shutil.which("ip")
    if exe is None:
        raise FileNotFoundError("the 'ip' command (iproute2) is not installed")
    try:
        out = subprocess.run([exe, "-j", "address", "show"], capture_output=True, text=True, check=True, timeout=10)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise OSError(f"'ip -j address show' failed: {exc}") from exc
    return [str(a["local"]) for link in json.loads(out.stdout) for a in link.get("addr_info", []) if "local" in a]
