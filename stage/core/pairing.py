"""Pairing codes: a short-lived number that an engineer reads out (or shows) and a tablet exchanges for a role's token.

The engineer's console asks for a code for a role; the tablet's sign-in
takes the six digits and gets the role's token back once, so the token is
typed nowhere and never travels in a URL.  A code lives :data:`LIFETIME`
seconds and works once; after :data:`MAX_FAILURES` wrong codes every code
still open is void (a million codes would otherwise be a guessing game).
A device with a camera need not type it: :func:`page_urls` are the page's
addresses with the code after ``#`` (the page exchanges it, and the fragment
never reaches a server or a log), and :func:`qr_data_uri` draws the first as
a QR code for the console to show.  Pure: ``now`` and the random numbers are
arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import segno

from stage.core.session import Role
from stage.errors import SessionError

LIFETIME = 120.0  # seconds a code can be exchanged
DIGITS = 6
MAX_FAILURES = 10  # wrong codes (since the last good one) before every open code is void


@dataclass(frozen=True)
class Code:
    """An open code: the role it hands over and when it expires (same clock as ``now``)."""

    code: str
    role: Role
    expires: float


class Pairing:
    """The open codes of one service."""

    def __init__(self, lifetime: float = LIFETIME, max_failures: int = MAX_FAILURES) -> None:
        self.lifetime = lifetime
        self.max_failures = max_failures
        self._open: dict[str, Code] = {}
        self.failures = 0

    def issue(self, role: Role, now: float, draw: Callable[[int], int]) -> Code:
        """A new code for ``role``; ``draw(n)`` is a random integer in ``[0, n)`` (``secrets.randbelow``)."""
        if role is Role.MUSICIAN:
            raise SessionError("musicians need no token: open /musician")
        self._expire(now)
        while True:
            text = f"{draw(10 ** DIGITS):0{DIGITS}d}"
            if text not in self._open:
                break
        code = Code(text, role, now + self.lifetime)
        self._open[text] = code
        return code

    def redeem(self, text: str, now: float) -> Role:
        """The role ``text`` hands over (the code is then spent); :class:`SessionError` saying why not."""
        self._expire(now)
        code = self._open.pop(text.strip().replace(" ", ""), None)
        if code is None:
            self.failures += 1
            if self.failures >= self.max_failures:
                self._open.clear()
                self.failures = 0
                raise SessionError("too many wrong codes: every open code is void; ask for a new one")
            raise SessionError("unknown or expired code: codes work once, for two minutes; ask for a new one")
        self.failures = 0
        return code.role

    def _expire(self, now: float) -> None:
        for text in [t for t, c in self._open.items() if c.expires <= now]:
            del self._open[text]


# The roles with a page of their own (the editor's tools call REST with the token ``POST /api/pair`` answers).
PAGED = frozenset({Role.CONDUCTOR, Role.ENGINEER})


def page_urls(bases: Sequence[str], code: Code) -> list[str]:
    """The address of ``code``'s page on each of ``bases`` (``http://host:port``), the code in its fragment; none
    for a role without a page."""
    if code.role not in PAGED:
        return []
    return [f"{base}/{code.role.value}#pair={code.code}" for base in bases]


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code: an SVG ``data:`` URI, dark on light with the standard four-module quiet zone."""
    return str(segno.make(text, error="m").svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))
