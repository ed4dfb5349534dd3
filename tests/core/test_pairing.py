"""Pairing codes: issued for a role, exchanged once, expire, and stop working after many wrong guesses."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from stage.core.pairing import DIGITS, Pairing
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
