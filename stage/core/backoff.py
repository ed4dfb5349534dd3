"""Reconnect delays: exponential back-off with jitter, as a pure generator.

The adapter that reconnects (MQTT) takes the generator as a parameter and
sleeps; nothing here reads a clock or draws random numbers itself: the
jitter source is an argument (a function returning values in ``[0, 1)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


def backoff(
    initial: float = 0.1,
    factor: float = 2.0,
    maximum: float = 2.0,
    jitter: float = 0.1,
    rand: Callable[[], float] = lambda: 0.5,
) -> Iterator[float]:
    """Delays before each reconnect attempt: ``initial``, ×``factor`` each time, capped at ``maximum``.

    Each delay is spread by ``±jitter`` of itself (``rand()`` in ``[0, 1)``
    picks where), so clients that lost the same broker do not all come back
    in the same instant.  Endless: the caller stops asking once connected.
    """
    if initial <= 0 or factor < 1 or maximum < initial or not 0 <= jitter < 1:
        raise ValueError(
            f"back-off needs 0 < initial <= maximum, factor >= 1 and 0 <= jitter < 1 "
            f"(initial {initial}, factor {factor}, maximum {maximum}, jitter {jitter})"
        )
    delay = initial
    while True:
        yield delay * (1 + jitter * (2 * rand() - 1))
        delay = min(delay * factor, maximum)
