"""schemathesis against the live service's own ``/openapi.json``: no request, valid or not, gets a 5xx.

Every operation gets examples generated from its schema (positive: fits the
schema; negative: does not), with a conductor's, an engineer's, an editor's
or no token in turn, on a SQLite take log and on PostgreSQL.  Afterwards the
service must still play, locate and stop and answer on every transport, and
its log must hold no traceback.  The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import itertools

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from peers.wait import SCALE
from schemathesis.core.result import Ok

from fuzz.livestage import TOKENS, LiveStage, Tally, crashes_in


@schemathesis.serializer("application/toml")
def _toml_body(_ctx: schemathesis.SerializationContext, value: object) -> bytes:
    """A cue sheet upload's body as sent: the TOML text (any other value generated, as its text)."""
    return (value if isinstance(value, str) else repr(value)).encode("utf-8", "surrogatepass")


EXAMPLES = 30  # per operation and generation mode: about 25 s for both take databases on a quiet machine


def test_no_request_gets_a_server_error(live_db: LiveStage) -> None:
    schema = schemathesis.openapi.from_url(f"{live_db.base}/openapi.json")
    tally = Tally(f"REST schemathesis ({live_db.database})")
    tokens = itertools.cycle([*TOKENS.values(), None])
    server_errors: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation in our schema is one schemathesis can use
        operations.append(result.ok())
    assert len(operations) >= 14  # every route is in the schema
    with requests.Session() as session:
        for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(data=st.data())
            def fuzz(data: st.DataObject) -> None:
                case = data.draw(operation.as_strategy(generation_mode=mode))  # noqa: B023 -- run at once
                token = next(tokens)
                if token is not None:
                    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
                try:
                    response = case.call(base_url=live_db.base, session=session, timeout=10 * SCALE)
                except (requests.exceptions.InvalidHeader, UnicodeEncodeError, ValueError):
                    tally.answers["not sendable"] += 1  # a header no HTTP client will put on the wire
                    return
                tally.sent += 1
                tally.answers[f"{response.status_code}"] += 1
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} {case.body!r}: "
                                         f"{response.status_code} {response.text[:200]}")

            try:
                fuzz()
            except Unsatisfiable:  # nothing of this operation can break its schema (no parameters, no body)
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    alive = live_db.alive()
    tally.report(alive)
    assert server_errors == []
    assert all(alive.values()), alive
    assert crashes_in(live_db.log_text()) == []
