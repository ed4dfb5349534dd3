"""One table answers every error: the protocol code and the HTTP status each edge sends back."""

from __future__ import annotations

import pytest

from stage.errors import (
    ConfigError,
    DiskFull,
    ErrorCode,
    MasterError,
    NotFound,
    PictureError,
    ProtocolError,
    SessionError,
    StageError,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    TempoError,
    TimecodeError,
    TransportTimeout,
    Unavailable,
    refusal_of,
)


@pytest.mark.parametrize(("exc", "code", "status"), [
    (NotFound("cue 9M9 is not on the cue sheet"), ErrorCode.NOT_FOUND, 404),
    (TransportTimeout("the engine did not roll"), ErrorCode.UNAVAILABLE, 503),
    (MasterError("no MTC came back within 5 s of the MMC play"), ErrorCode.MASTER, 504),
    (SessionError("nothing armed"), ErrorCode.REFUSED, 409),
    (StoreRefused("take 1M1-1 was changed meanwhile"), ErrorCode.REFUSED, 409),
    (StoreUnavailable("could not store take 1M1-1"), ErrorCode.UNAVAILABLE, 503),
    (StoreError("no take log at /x"), ErrorCode.UNAVAILABLE, 503),
    (Unavailable("no take log is open"), ErrorCode.UNAVAILABLE, 503),
    (TimecodeError("01:00:00:99"), ErrorCode.REFUSED, 400),
    (TempoError("tempo 0"), ErrorCode.REFUSED, 400),
    (ConfigError("bad"), ErrorCode.REFUSED, 400),
    (PictureError("reel1.mov has a variable frame rate"), ErrorCode.INVALID, 422),
    (DiskFull("the disk filled while making the proxy"), ErrorCode.UNAVAILABLE, 507),
    (ProtocolError(ErrorCode.FORBIDDEN, "a musician may not arm"), ErrorCode.FORBIDDEN, 403),
    (ProtocolError(ErrorCode.UNAUTHORIZED, "unknown token"), ErrorCode.UNAUTHORIZED, 401),
    (ProtocolError(ErrorCode.INVALID, "bar: too large"), ErrorCode.INVALID, 422),
])
def test_each_error_has_one_code_and_one_status(exc: StageError, code: ErrorCode, status: int) -> None:
    assert refusal_of(exc) == (code, status)


def test_a_refusal_and_an_outage_are_told_apart_by_their_class_not_their_cause() -> None:
    refused = StoreRefused("take 1M1-2 is already in the take log")
    refused.__cause__ = OSError("whatever came before")
    outage = StoreUnavailable("could not store")
    assert refusal_of(refused) == (ErrorCode.REFUSED, 409)
    assert refusal_of(outage) == (ErrorCode.UNAVAILABLE, 503)


def test_every_protocol_code_has_an_http_status() -> None:
    assert {refusal_of(ProtocolError(c, ""))[0] for c in ErrorCode} == set(ErrorCode)
