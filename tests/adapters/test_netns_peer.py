"""The second host the HTTPS tests use: its own subnet, a real link to this machine, nothing left behind."""

from __future__ import annotations

import ipaddress
import socket
import subprocess

import pytest
from peers.netns import POOL, OtherHost, other_host


def names() -> set[str]:
    return {line.split()[0] for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                                       check=True).stdout.splitlines() if line.strip()}


def link_exists(link: str) -> bool:
    return subprocess.run(["ip", "link", "show", link], capture_output=True, check=False).returncode == 0


def test_two_hosts_at_once_get_subnets_of_their_own_and_reach_this_machine() -> None:
    with other_host() as a, other_host() as b:
        nets = [ipaddress.IPv4Interface(f"{h.host_address}/30").network for h in (a, b)]
        assert nets[0] != nets[1]
        assert all(n.subnet_of(POOL) for n in nets)
        assert ipaddress.ip_address(a.address) in nets[0]
        # A listener on this machine's end answers a connection from inside the namespace, from its address.
        with socket.create_server((a.host_address, 0)) as server:
            port = server.getsockname()[1]
            client = subprocess.Popen(a.argv("python3", "-c", f"import socket; socket.create_connection(("
                                             f"'{a.host_address}', {port}), 5).sendall(b'hello')"))
            server.settimeout(10)
            conn, peer = server.accept()
            with conn:
                assert conn.recv(5) == b"hello"
            assert peer[0] == a.address
            assert client.wait(10) == 0
        # The other namespace is on another link: it cannot reach this one's subnet.
        other = subprocess.run(b.argv("python3", "-c", f"import socket; socket.create_connection(('{a.host_address}',"
                                      f" {port}), 1)"), capture_output=True, text=True, check=False)
        assert other.returncode != 0


def test_everything_made_is_removed_even_when_the_test_fails() -> None:
    made: list[OtherHost] = []

    def failing() -> None:
        with other_host() as host:
            made.append(host)
            assert host.name in names()
            assert link_exists(host.link)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing()
    [host] = made
    assert host.name not in names()
    assert not link_exists(host.link)


def test_a_namespace_a_killed_run_left_behind_is_swept() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = f"stage-{dead.pid}-abc123"
    subprocess.run(["ip", "netns", "add", left], check=True)
    try:
        with other_host():
            assert left not in names()
    finally:
        subprocess.run(["ip", "netns", "delete", left], capture_output=True, check=False)
