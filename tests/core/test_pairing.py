"""Pairing codes: issued for a role, exchanged once, expire, stop working after many wrong guesses; their pages'
addresses and QR codes."""

from __future__ import annotations

import itertools
import re
import urllib.parse
from collections.abc import Callable

import pytest

from stage.core.pairing import DIGITS, Pairing, page_urls, qr_data_uri
from stage.core.session import Role
from stage.errors import SessionError


def counter() -> Callable[[int], int]:
    numbers = itertools.count(41)
    return lambda n: next(numbers) % n


def test_a_code_hands_over_its_role_once() -> None:
    pairing = Pairing(lifetime=120)
    code = pairing.issue(Role.CONDUCTOR, 10.0, counter())
    assert code.code == "000041"
    assert len(code.code) == DIGITS
    assert code.expires == 130.0
    assert pairing.redeem(" 000 041 ", 20.0) is Role.CONDUCTOR
    with pytest.raises(SessionError, match="unknown or expired"):
        pairing.redeem("000041", 21.0)


def test_a_code_expires() -> None:
    pairing = Pairing(lifetime=120)
    code = pairing.issue(Role.ENGINEER, 0.0, counter())
    with pytest.raises(SessionError, match="unknown or expired"):
        pairing.redeem(code.code, 120.0)


def test_codes_never_repeat_while_open() -> None:
    pairing = Pairing()
    draw = lambda n: 7  # noqa: E731 -- every draw the same number but one
    first = pairing.issue(Role.EDITOR, 0.0, draw)
    seq = iter([7, 7, 8])
    second = pairing.issue(Role.EDITOR, 0.0, lambda n: next(seq))
    assert (first.code, second.code) == ("000007", "000008")


def test_too_many_wrong_codes_void_every_open_code() -> None:
    pairing = Pairing(max_failures=3)
    code = pairing.issue(Role.CONDUCTOR, 0.0, counter())
    for _ in range(2):
        with pytest.raises(SessionError, match="unknown"):
            pairing.redeem("999999", 1.0)
    with pytest.raises(SessionError, match="too many wrong codes"):
        pairing.redeem("999998", 1.0)
    with pytest.raises(SessionError, match="unknown"):
        pairing.redeem(code.code, 1.0)


def test_musicians_need_no_code() -> None:
    with pytest.raises(SessionError, match="musicians need no token"):
        Pairing().issue(Role.MUSICIAN, 0.0, counter())


def test_a_codes_page_is_named_at_each_address_with_the_code_after_the_hash() -> None:
    code = Pairing().issue(Role.CONDUCTOR, 0.0, lambda n: 48213)
    assert page_urls(["http://192.168.1.20:8000", "http://[fd00::2]:8000"], code) == [
        "http://192.168.1.20:8000/conductor#pair=048213", "http://[fd00::2]:8000/conductor#pair=048213"]
    assert page_urls([], code) == []
    editor = Pairing().issue(Role.EDITOR, 0.0, lambda n: 7)  # no page: its tools take the token over REST
    assert page_urls(["http://192.168.1.20:8000"], editor) == []


def test_the_qr_code_is_an_svg_picture_square_with_its_quiet_zone() -> None:
    uri = qr_data_uri("http://192.168.1.20:8000/conductor#pair=048213")
    assert uri.startswith("data:image/svg+xml;charset=utf-8,")
    svg = urllib.parse.unquote(uri.split(",", 1)[1])
    width = re.search(r"width='(\d+)'", svg)
    height = re.search(r"height='(\d+)'", svg)
    assert width is not None
    assert height is not None
    # Version 3 or 4 (29 or 33 modules) plus four modules of quiet zone each side, four pixels a module.
    assert width.group(1) == height.group(1)
    assert int(width.group(1)) in {(29 + 8) * 4, (33 + 8) * 4}
    assert qr_data_uri("a") != qr_data_uri("b")
