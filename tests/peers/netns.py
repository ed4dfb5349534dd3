"""A second host for a page: a network namespace joined to this one by a veth pair, with addresses of its own.

The stage listens on this machine's end of the pair; a browser started in the
namespace (``ip netns exec``) reaches it over a real, if virtual, link: an
address that is not loopback, as a projector's computer on the stage network
would.  Each host takes a /30 of :data:`POOL` that no other run holds (an
``flock`` on a file per subnet, released when the process ends however it
ends) and no interface already carries; the namespace and the pair are
removed on the way out, failure or not, and namespaces a killed run left
behind (named after a process that no longer runs) are swept when the next
one starts.

Its browser trusts the stage's authority as a stage computer's Chromium does:
through the NSS database in its HOME (:func:`trusting_home`, ``certutil``),
or through a policy in its own ``/etc`` (:meth:`OtherHost.etc`: ``ip netns
exec`` mounts ``/etc/netns/<name>/X`` over ``/etc/X`` for what it runs);
never by ignoring certificate errors.

Needs root (``ip netns add``) and iproute2; without them the test fails saying so.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from peers.jackd import PeerMissing, require

POOL = ipaddress.IPv4Network("10.231.0.0/16")  # private, and far from what a machine's own networks use
LOCKS = Path(tempfile.gettempdir()) / "stage-netns"
PREFIX = "stage"  # namespaces are named stage-<pid>-<tag>: a sweep knows whose they were
CHROMIUM = "/usr/bin/chromium"
ETC = Path("/etc/netns")


@dataclass(frozen=True)
class OtherHost:
    """A network namespace on a /30 of its own: ``address`` is its end, ``host_address`` this machine's."""

    name: str
    address: str
    host_address: str
    link: str  # this machine's end of the veth pair

    def argv(self, *command: str) -> list[str]:
        """``command`` run inside the namespace."""
        return [require("ip", "iproute2"), "netns", "exec", self.name, *command]

    def chromium(self, directory: Path, executable: str = CHROMIUM) -> Path:
        """An executable that starts Chromium in the namespace, for Playwright's ``executable_path`` (Playwright
        talks to the browser over a pipe, which crosses into the namespace untouched)."""
        script = directory / f"chromium-{self.name}"
        script.write_text(f'#!/bin/sh\nexec {" ".join(self.argv(executable))} "$@"\n', encoding="utf-8")
        script.chmod(0o755)
        return script

    def etc(self, relative: str) -> Path:
        """Where to write ``/etc/<relative>`` as programs started in the namespace from now on see it (the whole
        of ``/etc/<first part>`` is replaced for them); removed with the namespace."""
        path = ETC / self.name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def trusting_home(home: Path, authority: Path | None) -> Path:
    """A HOME whose NSS database (``~/.pki/nssdb``, where Chromium and NSS tools look) trusts ``authority`` to
    identify servers; with None, an empty database that trusts nothing of the stage's."""
    certutil = _need("certutil", "libnss3-tools")
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    _run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"])
    if authority is not None:
        _run([certutil, "-A", "-d", f"sql:{db}", "-n", "stage authority", "-t", "C,,", "-i", str(authority)])
    return home


@contextlib.contextmanager
def other_host() -> Iterator[OtherHost]:
    """A namespace with a veth pair on a /30 nobody else holds; everything it made removed afterwards."""
    ip = _need("ip", "iproute2")
    if os.geteuid() != 0:
        raise AssertionError("a network namespace needs root (ip netns add): run the tests as root")
    _sweep(ip)
    tag = uuid.uuid4().hex[:6]
    name, link = f"{PREFIX}-{os.getpid()}-{tag}", f"st{tag}h"
    with _claim(ip) as net:
        host_address, address = (str(a) for a in net.hosts())
        try:
            _run([ip, "netns", "add", name])
            _run([ip, "link", "add", link, "type", "veth", "peer", "name", f"st{tag}n", "netns", name])
            _run([ip, "address", "add", f"{host_address}/{net.prefixlen}", "dev", link])
            _run([ip, "link", "set", link, "up"])
            _run([ip, "-n", name, "address", "add", f"{address}/{net.prefixlen}", "dev", f"st{tag}n"])
            _run([ip, "-n", name, "link", "set", f"st{tag}n", "up"])
            _run([ip, "-n", name, "link", "set", "lo", "up"])
            yield OtherHost(name, address, host_address, link)
        finally:
            subprocess.run([ip, "netns", "delete", name], capture_output=True, check=False)
            subprocess.run([ip, "link", "delete", link], capture_output=True, check=False)  # gone with it, normally
            shutil.rmtree(ETC / name, ignore_errors=True)


@contextlib.contextmanager
def _claim(ip: str) -> Iterator[ipaddress.IPv4Network]:
    """A /30 of the pool held by this process (a lock file per subnet) that no interface here carries."""
    LOCKS.mkdir(exist_ok=True)
    used = _addresses(ip)
    subnets = list(POOL.subnets(new_prefix=30))
    start = random.randrange(len(subnets))
    for net in subnets[start:] + subnets[:start]:
        if any(a in net for a in used):
            continue
        fd = os.open(LOCKS / str(net.network_address), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield net
        finally:
            os.close(fd)  # releases the lock
        return
    raise AssertionError(f"every /30 of {POOL} is taken")


def _addresses(ip: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    links = json.loads(_run([ip, "-j", "address", "show"]))
    return [ipaddress.ip_address(a["local"]) for link in links for a in link.get("addr_info", []) if "local" in a]


def _sweep(ip: str) -> None:
    """Remove the namespaces runs that no longer exist left behind (a test killed before its cleanup)."""
    for line in _run([ip, "netns", "list"]).splitlines():
        found = re.match(rf"({PREFIX}-(\d+)-[0-9a-f]{{6}})\b", line)
        if found is None:
            continue
        try:
            os.kill(int(found[2]), 0)
        except ProcessLookupError:
            subprocess.run([ip, "netns", "delete", found[1]], capture_output=True, check=False)
            shutil.rmtree(ETC / found[1], ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def _need(binary: str, package: str) -> str:
    try:
        return require(binary, package)
    except PeerMissing as exc:
        raise AssertionError(str(exc)) from None


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout
