"""HTTP: the REST API under ``/api`` (FastAPI; OpenAPI with examples at ``/docs``).

Control needs ``Authorization: Bearer <token>`` of a role allowed to do it
(tokens per role in ``[auth]``); reading needs nothing.  Every error is
``{"detail": "<reason>"}`` with a status that says whose move it is: 401 no or
unknown token, 403 a role that may not, 404 an unknown cue or take, 409 not
now (rolling, nothing armed, a stale version), 400/422 a request that can
never work, 503 the engine or the take database did not answer (the service
keeps running; ask again).  ``docs/rest.md`` lists every endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from stage.adapters.pages import mount_api_docs, mount_pages
from stage.adapters.store import known_take
from stage.adapters.takefiles import TakeFormat, take_file
from stage.core import limits as lim
from stage.core import protocol as p
from stage.core.breakdown import breakdown_dict, cue_breakdown
from stage.core.cuesheet import Cue
from stage.core.schedule import CueEvent, EventKind, click_kind, cue_revision
from stage.core.session import Action, Role
from stage.core.takemarks import Selection
from stage.errors import ErrorCode, ProtocolError, StageError, Unavailable, refusal_of
from stage.runtime.commands import Controls
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger, edit_json


class Problem(BaseModel):
    """Every error answer: the reason, in words."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "cue 9M9 is not on the cue sheet"}]})
    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {
        400: "a value that cannot work (a timecode that does not exist, a bar the cue lacks)",
        401: "no token, or an unknown one",
        403: "this role may not do that",
        404: "unknown cue or take (a take id outside 1 to 2^31-1 is unknown)",
        409: "not now: rolling, nothing armed, already stopped, changed meanwhile",
        422: "malformed JSON, a body that does not fit the schema, a value out of its bounds (docs/limits.md)",
        503: "the engine or the take database did not answer; the service keeps running",
        504: "the timecode master driven by MMC did not do it in time: no timecode came back, or it came back "
             "elsewhere (docs/mmc.md)",
    }
    return {code: {"model": Problem, "description": words[code]} for code in codes}


# REST's body for a command is the protocol's arguments (docs/ws.md), checked by the protocol's table, so a
# refusal reads alike on every transport.  The examples shown at /docs, by name:
EXAMPLES: Mapping[str, Mapping[str, dict[str, Any]]] = {
    "arm": {"arm": {"cue": "1M1"}, "disarm: every cue clicks": {"cue": None}},
    "mode": {"record": {"mode": "record"}, "rehearse": {"mode": "rehearse"}},
    "play": {"roll from where picture is": {}, "a pickup from bar 33 (locates there)": {"pickup_bar": 33},
             "a pickup from bar 33 beat 3, one bar counted in": {"pickup_bar": 33, "pickup_beat": 3, "countin": 1},
             "a pickup from bar 33, rolling from where the conductor located": {"pickup_bar": 33, "locate": False},
             "a wild take": {"wild": True}},
    "pickup": {"from bar 17": {"bar": 17}, "from bar 17 beat 3, one bar counted in": {"bar": 17, "beat": 3,
                                                                                     "countin": 1},
               "back to the top": {"bar": None}},
    "locate": {"a timecode": {"timecode": "01:00:10:00"}, "a bar of the armed cue": {"bar": 33},
               "a beat of a named cue": {"bar": 12, "beat": 3, "cue": "1M1"}},
    "varispeed": {"a pull of 0.1 %": {"speed": 1.001}},
}


def _body(command: str) -> dict[str, Any]:
    """The OpenAPI request body of ``command``: the protocol's arguments, with the examples above."""
    examples = {name: {"value": value} for name, value in EXAMPLES[command].items()}
    return {"requestBody": {"required": command != "play", "content": {"application/json": {
        "schema": p.args_schema(command), "examples": examples}}}}


async def _arguments(request: Request) -> Any:
    """The request's JSON body (an empty one: no arguments); :class:`ProtocolError` if it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)  # NaN or 1e400 parse here and are refused by the argument's own check
    except json.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"malformed JSON at character {exc.pos}: {exc.msg}") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"malformed JSON: {exc}") from None


TAKE_ID = f"the take's id; no take has one outside 1 to {lim.MAX_ID}: 404 like any unknown take"

# PATCH's body is take_edit's arguments (the protocol's table checks them, so a refusal reads as on /ws), a
# note named as the take sheet's column is: notes; the take is the path's.
PATCH_FIELDS: Mapping[str, str] = {"status": "status", "notes": "note", "pickup_bar": "pickup_bar", "wild": "wild",
                                   "expected_version": "expected_version"}
PATCH_EXAMPLES = {"print it, with a note": {"status": "print", "notes": "lovely horns"},
                  "a false start": {"status": "false_start"},
                  "a note, refused if the take changed since version 2": {"notes": "clip in bar 12",
                                                                          "expected_version": 2},
                  "a pickup from bar 33, not wild": {"pickup_bar": 33, "wild": False}}


def _patch_body() -> dict[str, Any]:
    """The OpenAPI request body of PATCH /api/takes/{id}: take_edit's arguments under REST's names."""
    args = p.args_schema("take_edit")["properties"]
    schema = {"type": "object", "additionalProperties": False, "minProperties": 1,
              "description": "Changes to a take, each checked against the caller's role: notes appends a note "
              "signed with the role, status null clears the status, expected_version refuses the edit (409) if "
              "someone changed the take since that version was read.",
              "properties": {rest: args[name] for rest, name in PATCH_FIELDS.items()}}
    examples = {name: {"value": value} for name, value in PATCH_EXAMPLES.items()}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema,
                                                                                 "examples": examples}}}}


def cue_summary(cue: Cue, revision: str | None = None) -> dict[str, Any]:
    """A cue as JSON (with the revision the service runs, when given)."""
    return {
        "id": cue.id,
        "revision": revision if revision is not None else cue_revision(cue),
        "title": cue.title,
        "start": str(cue.start),
        "end": str(cue.end),
        "free": cue.free,
        "bars": cue.clicks.bars if cue.clicks is not None else None,
        "countoff": cue.clicks.countoff if cue.clicks is not None else 0,
        "length_seconds": float(cue.end_time),
        "hits": len(cue.hits),
        # Picture seconds, so a screen can place the cue on the transport's own scale.
        "downbeat": float(cue.downbeat),
        "first": float(cue.downbeat + cue.first_time),
        "end_position": float(cue.downbeat + cue.end_time),
    }


def cue_clicks(cue: Cue, events: Sequence[CueEvent]) -> list[dict[str, Any]]:
    """The clicks of ``cue`` as its schedule ``events`` play them (count-off, or a pickup's count-in, included).

    As JSON: seconds from the downbeat, bar, beat, kind and length (the time to the next click).
    """
    if cue.clicks is None:
        return []
    ticks = [e for e in events if e.kind in (EventKind.WARNING, EventKind.CLICK)]
    last = cue.clicks.clicks[-1].length
    out = []
    for i, e in enumerate(ticks):
        length = ticks[i + 1].time - e.time if i + 1 < len(ticks) else last
        out.append({"time": float(e.time), "bar": e.bar, "beat": int(e.beat or 0), "kind": click_kind(e).value,
                    "length": float(length)})
    return out


# Dependencies live at module level: FastAPI resolves the (string) annotations of a dependency in its module.


def role_of(request: Request, authorization: Annotated[str | None, Header()] = None) -> Role | None:
    """The caller's role from its bearer token (None: no token); 401 for a malformed or unknown one."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "Authorization must be 'Bearer <token>'")
    controls: Controls = request.app.state.controls
    role = controls.role_of_token(token)  # the same check every transport makes
    if role is not None:
        return role
    raise HTTPException(401, "unknown token")


def need(action: Action | None) -> Callable[..., Role]:
    """A dependency: the caller's role from its token, which a request to ``action`` must carry (401 without).

    Whether the role may do it is checked where every edge's permission is, in :meth:`Controls.run`.
    """
    what = action.value if action is not None else "control the session"

    def caller(role: Annotated[Role | None, Depends(role_of)]) -> Role:
        if role is None:
            raise HTTPException(401, f"to {what} send Authorization: Bearer <token> of a role allowed to")
        return role

    return caller


def _reason(error: Mapping[str, Any]) -> str:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"malformed JSON at character {loc[-1]}" + (f": {detail}" if detail else "")
    where = ".".join(str(x) for x in loc if x != "body") or "body"
    return f"{where}: {error.get('msg')}"


def create_app(
    service: Service,
    takes: TakeLogger | None = None,
    controls: Controls | None = None,
) -> FastAPI:
    """The FastAPI application over ``service``; ``takes`` is the take log (without it: rehearse only).

    Session and transport commands become protocol commands run by
    ``controls`` (made here when not given), as every other edge's are.
    """
    app = FastAPI(
        title="stage",
        summary="Session controller of a film-scoring stage",
        version="0.1.0",
        description="Cues, session, transport and the take log. Control needs `Authorization: Bearer <token>` "
        'of a role allowed to do it; reading needs nothing. Errors are `{"detail": "<reason>"}`.',
        docs_url=None,  # mount_api_docs serves /docs from this stage instead of a CDN
        redoc_url=None,
    )
    mount_pages(app)
    mount_api_docs(app)

    one_way_in = controls if controls is not None else Controls(service, takes)
    app.state.controls = one_way_in  # the dependencies above read the caller's role through it

    async def run(name: str, args: Any, role: Role) -> dict[str, Any]:
        """Run a command as every edge does; the protocol's table checks its arguments."""
        command = p.parse_value({"type": "command", "command": name, "args": args})
        assert isinstance(command, p.Command)
        return await one_way_in.run(command, role)

    def log() -> TakeLogger:
        if takes is None:
            raise Unavailable("no take log is open in this service")
        return takes

    def rolled(result: Mapping[str, Any]) -> dict[str, Any]:
        master = {"master": result["master"]} if "master" in result else {}  # the MMC master's answer, docs/mmc.md
        return {"take": result["take"], "mode": service.session_state()["mode"], "transport": service.transport_state(),
                **master}

    @app.exception_handler(StageError)
    async def _refused(_: Request, exc: StageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=refusal_of(exc)[1])

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = "; ".join(_reason(e) for e in exc.errors())
        return JSONResponse({"detail": reasons or "invalid request"}, status_code=422)

    # -- service and cues ------------------------------------------------------------------------

    @app.get("/api/health", tags=["service"], responses={503: {"description": "the engine is not running "
                                                               "(stalled, or restarting after it died): the body "
                                                               "says why"}})
    async def health(response: Response) -> dict[str, Any]:
        """Whether the service runs, with its engine and MIDI, and how the take log is doing.

        200 while the engine runs; 503 while it does not answer or is being
        restarted, with ``"ok": false`` and the engine's state and the reason
        in ``engine``.
        """
        engine = service.engine_status
        out: dict[str, Any] = {
            "ok": engine.up,
            "midi": bool(service.engine_ready and service.engine_ready.midi),
            "engine": engine.as_dict(),
            "clock": service.clock_state(),
        }
        if not engine.up:
            response.status_code = 503
        if takes is not None:
            out["takes"] = {"database": takes.store.url, "unstored": takes.unstored}
        mmc = service.mmc_state()
        if mmc is not None:
            out["mmc"] = mmc
        return out

    @app.get("/api/cues", tags=["cues"])
    async def list_cues() -> list[dict[str, Any]]:
        """Every cue on the sheet, in sheet order."""
        return [cue_summary(c, service.revisions.get(c.id)) for c in service.sheet.cues]

    @app.put(
        "/api/cues",
        tags=["cues"],
        responses={**_errors(401, 403, 409), 413: {"description": "a cue sheet over 1 MiB"},
                   422: {"description": "a broken cue sheet: every problem named"}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/toml": {
            "schema": {"type": "string"}, "example": "[picture]\nrate = \"24\"\n\n[[cue]]\nid = \"1M1\"\n...",
        }}}},
    )
    async def put_cues(request: Request, role: Annotated[Role, Depends(need(Action.EDIT_CUES))]) -> Response:
        """Replace the cue sheet (TOML body) between takes: validated first; refused while picture rolls."""
        raw = await request.body()
        if len(raw) > lim.MAX_SHEET:  # in bytes, before decoding them (the protocol's bound counts characters)
            return JSONResponse({"detail": f"the cue sheet is {len(raw)} bytes, over the limit of {lim.MAX_SHEET}; "
                                 "the running one stays", "problems": []}, 413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return JSONResponse({"detail": f"the cue sheet is not UTF-8 text: {exc}", "problems": []}, 422)
        try:
            result = await run("load_sheet", {"text": text}, role)
        except ProtocolError as exc:
            if not exc.problems:
                raise
            problems = list(exc.problems)
            detail = f"the cue sheet has {len(problems)} problem(s); the running one stays: " + "; ".join(problems)
            return JSONResponse({"detail": detail, "problems": problems}, 422)
        cues = [cue_summary(c, service.revisions.get(c.id)) for c in service.sheet.cues]
        return JSONResponse({**result, "cues": cues})

    @app.get("/api/cues/{cue_id}", tags=["cues"], responses=_errors(404))
    async def get_cue(cue_id: Annotated[str, Path(examples=["1M1"])]) -> dict[str, Any]:
        """One cue with its breakdown."""
        cue = service.cue(cue_id)
        return {**cue_summary(cue, service.revisions.get(cue.id)), "breakdown": breakdown_dict(cue_breakdown(cue))}

    @app.get("/api/cues/{cue_id}/clicks", tags=["cues"], responses=_errors(404))
    async def get_clicks(cue_id: Annotated[str, Path(examples=["1M1"])]) -> list[dict[str, Any]]:
        """The cue's clicks in time order as it plays now (a pickup cued up on it: its count-in, then the clicks
        from the pickup bar; empty for free timing): what a screen counts bars and beats from."""
        cue = service.cue(cue_id)
        return cue_clicks(cue, service.schedule_of(cue))

    # -- session ---------------------------------------------------------------------------------

    @app.get("/api/session", tags=["session"], responses=_errors(503))
    async def session() -> dict[str, Any]:
        """Mode, armed cue, the take being recorded and the next take number."""
        log()
        return service.session_state()

    @app.post("/api/session/arm", tags=["session"], responses=_errors(401, 403, 404, 409, 422),
              openapi_extra=_body("arm"))
    async def arm(request: Request, role: Annotated[Role, Depends(need(Action.ARM))]) -> dict[str, Any]:
        """Arm a cue (null: disarm, every cue clicks): the next roll is on it (refused while rolling)."""
        return await run("arm", await _arguments(request), role)

    @app.post("/api/session/mode", tags=["session"], responses=_errors(401, 403, 409, 422, 503),
              openapi_extra=_body("mode"))
    async def mode(request: Request, role: Annotated[Role, Depends(need(Action.ARM))]) -> dict[str, Any]:
        """Rehearse (nothing is logged) or record (every roll is a new take); refused while rolling."""
        log()
        return await run("mode", await _arguments(request), role)

    # -- transport -------------------------------------------------------------------------------

    @app.get("/api/transport", tags=["transport"])
    async def transport() -> dict[str, Any]:
        """The transport: rolling, position, timecode and the anchor clients draw from."""
        return service.transport_state()

    @app.post("/api/transport/play", tags=["transport"], responses=_errors(400, 401, 403, 409, 422, 503, 504),
              openapi_extra=_body("play"))
    async def play(request: Request, role: Annotated[Role, Depends(need(None))]) -> dict[str, Any]:
        """Roll: from where picture is, as a pickup from a bar, or a wild take (no body: from where it is).

        In record mode: answers once the new take is in the take log, with the take.
        """
        return rolled(await run("play", await _arguments(request), role))

    @app.post("/api/transport/from_top", tags=["transport"], responses=_errors(401, 403, 409, 503, 504))
    async def from_top(role: Annotated[Role, Depends(need(None))]) -> dict[str, Any]:
        """From the top: locate to the pre-roll before the armed cue's count-off and roll (record: a new take)."""
        return rolled(await run("from_top", {}, role))

    @app.post("/api/session/pickup", tags=["session"], responses=_errors(400, 401, 403, 409, 422, 503, 504),
              openapi_extra=_body("pickup"))
    async def pickup(request: Request, role: Annotated[Role, Depends(need(Action.ARM))]) -> dict[str, Any]:
        """Cue up a pickup with a count-in (or, bar null, the top); picture goes to its pre-roll. Play rolls."""
        result = await run("pickup", await _arguments(request), role)
        result.pop("position")
        return {**result, "transport": service.transport_state()}

    @app.post("/api/transport/stop", tags=["transport"], responses=_errors(401, 403, 409, 503, 504))
    async def stop(role: Annotated[Role, Depends(need(None))]) -> dict[str, Any]:
        """Stop. A take being recorded ends: answers once its end is in the take log, with the take."""
        return rolled(await run("stop", {}, role))

    @app.post("/api/transport/locate", tags=["transport"], responses=_errors(400, 401, 403, 404, 409, 422, 504),
              openapi_extra=_body("locate"))
    async def locate(request: Request, role: Annotated[Role, Depends(need(Action.PLAY))]) -> dict[str, Any]:
        """Jump to a timecode, or to a bar (and beat) of a cue (the armed one by default)."""
        result = await run("locate", await _arguments(request), role)  # answered once the engine (or master) has it
        return {**service.transport_state(), **{k: v for k, v in result.items() if k == "master"}}

    @app.post("/api/transport/varispeed", tags=["transport"], responses=_errors(401, 403, 409, 422),
              openapi_extra=_body("varispeed"))
    async def varispeed(request: Request, role: Annotated[Role, Depends(need(Action.PLAY))]) -> dict[str, Any]:
        """Set the internal clock's speed: 1.0 is normal, 0.9-1.1 a ±10 % pull; 1/64 to 4 either way (negative:
        reverse)."""
        await run("varispeed", await _arguments(request), role)
        return service.transport_state()

    # -- takes -----------------------------------------------------------------------------------

    @app.get("/api/takes", tags=["takes"], responses=_errors(404, 503))
    async def list_takes(
        cue: Annotated[str | None, Query(examples=["1M1"], max_length=lim.MAX_CUE_ID)] = None,
    ) -> dict[str, Any]:
        """Every take (of one cue), in the order they were logged."""
        takes_of = log()
        return {"takes": [takes_of.as_json(t) for t in await takes_of.takes(cue)]}

    @app.get(
        "/api/takes/export",
        tags=["takes"],
        responses={
            200: {"content": {"text/csv": {}, "application/json": {}, "audio/midi": {}, "text/plain": {}},
                  "description": "the take sheet, the takes as a DAW's markers, or an EDL"},
            **_errors(422, 503),
        },
    )
    async def export(
        fmt: Annotated[TakeFormat, Query(alias="format")] = "csv",
        which: Annotated[Selection | None, Query(alias="takes", description="circled, kept or all (default: "
                                                 "all; circled for edl)")] = None,
    ) -> Response:
        """The take sheet a music editor hands on (CSV, JSON), a marker per take as a Standard MIDI File that a
        DAW imports as memory locations (midi-markers), or a CMX 3600 EDL of the circled takes (edl)."""
        out = take_file(await log().takes(), fmt, rate=service.rate, tz=log().tz, selection=which,
                        title=service.sheet.title or "")
        disposition = f'attachment; filename="{out.filename}"'
        return Response(out.data, media_type=out.media_type, headers={"Content-Disposition": disposition})

    # A take id is any integer in the path: one that no take can have (outside 1 to 2^31-1) is a 404 like any
    # unknown one, never a question to the database.
    @app.get("/api/takes/{take_id}", tags=["takes"], responses=_errors(404, 422, 503))
    async def get_take(take_id: Annotated[int, Path(description=TAKE_ID)]) -> dict[str, Any]:
        """One take with its history of edits."""
        take, history = await log().take(take_id)
        return {"take": log().as_json(take), "history": [edit_json(e) for e in history]}

    @app.patch("/api/takes/{take_id}", tags=["takes"], responses=_errors(401, 403, 404, 409, 422, 503),
               openapi_extra=_patch_body())
    async def patch_take(
        take_id: Annotated[int, Path(description=TAKE_ID)], request: Request,
        role: Annotated[Role, Depends(need(None))],
    ) -> dict[str, Any]:
        """Set a take's status or marks, or add a note; every change lands in its history."""
        log()
        known_take(take_id)  # the protocol carries ids from 1 up; any other is unknown here, as in the store
        body = await _arguments(request)
        if isinstance(body, dict):
            unknown = sorted(set(body) - set(PATCH_FIELDS))  # "take" and "note" too: they are not REST's names
            if unknown:
                raise ProtocolError(ErrorCode.INVALID, f"command take_edit: args: unknown field {', '.join(unknown)}")
            body = {"take": take_id, **{PATCH_FIELDS[field]: value for field, value in body.items()}}
        result = await run("take_edit", body, role)
        return {"take": result["take"], "edits": result["edits"]}

    return app
