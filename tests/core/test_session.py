from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stage.core.session import (
    PERMISSIONS,
    Action,
    Mode,
    ModeChanged,
    Note,
    Role,
    Session,
    Take,
    TakeEdit,
    TakeEnded,
    TakeStarted,
    TakeStatus,
    allowed,
    apply_edit,
    require,
)
from stage.core.timecode import Timecode
from stage.errors import NotFound, SessionError

T0 = datetime(2026, 3, 2, 14, 30, 0, tzinfo=UTC)


def tc(text: str, rate: str = "24") -> Timecode:
    return Timecode.parse(text, rate)


def recording(*cues: str) -> Session:
    s = Session()
    s.load(cues or ("1M1", "1M2"))
    s.set_mode(Mode.RECORD)
    return s


def take_of(session: Session, start: str = "01:00:10:00", end: str = "01:00:20:12", cue: str = "1M1",
            **kw: object) -> Take:
    (started,) = session.roll(cue, tc(start), T0, **kw)  # type: ignore[arg-type]
    assert isinstance(started, TakeStarted)
    (ended,) = session.stop(tc(end), T0 + timedelta(seconds=11))
    assert isinstance(ended, TakeEnded)
    return ended.take


# --- loading, mode ------------------------------------------------------------------------------


def test_load_takes_the_cues_and_a_mode_change_is_an_event() -> None:
    s = Session()
    s.load(["1M1", "1M2"])
    assert s.cues == ("1M1", "1M2")
    assert Session().mode is Mode.REHEARSE
    assert s.set_mode(Mode.RECORD) == (ModeChanged(Mode.RECORD),)
    assert s.set_mode(Mode.RECORD) == ()
    assert s.mode is Mode.RECORD


def test_rolling_a_cue_not_on_the_sheet_is_not_found() -> None:
    s = Session()
    s.load(["1M1"])
    with pytest.raises(NotFound, match=r"^cue 9M9 is not on the cue sheet$"):
        s.roll("9M9", tc("01:00:00:00"), T0)
    assert not s.rolling


def test_load_refuses_duplicates_and_empty_ids() -> None:
    s = Session()
    with pytest.raises(SessionError, match=r"^cue 1M1 appears twice on the cue sheet$"):
        s.load(["1M1", "1M2", "1M1"])
    with pytest.raises(SessionError, match="is empty"):
        s.load(["1M1", " "])
    assert s.cues == ()


def test_nothing_changes_while_rolling() -> None:
    s = recording()
    s.roll("1M1", tc("01:00:10:00"), T0)
    assert s.busy() == "recording take 1M1-1"
    with pytest.raises(SessionError, match=r"^cannot switch to rehearse while recording take 1M1-1: stop first$"):
        s.set_mode(Mode.REHEARSE)
    with pytest.raises(SessionError, match=r"^cannot load a cue sheet while recording take 1M1-1: stop first$"):
        s.load(["1M1"])
    with pytest.raises(SessionError, match=r"^already recording take 1M1-1$"):
        s.roll("1M2", tc("01:00:11:00"), T0)
    assert s.take is not None
    assert s.take.label == "1M1-1"
    assert s.mode is Mode.RECORD


def test_stop_needs_a_roll() -> None:
    s = recording()
    with pytest.raises(SessionError, match=r"^not rolling$"):
        s.stop(tc("01:00:00:00"), T0)


# --- rehearse and record -----------------------------------------------------------------------


def test_rehearse_rolls_without_a_take() -> None:
    s = Session()
    s.load(["1M1"])
    assert s.busy() == ""
    assert s.roll("1M1", tc("01:00:10:00"), T0) == ()
    assert s.rolling
    assert s.busy() == "rehearsing 1M1"
    assert s.take is None
    with pytest.raises(SessionError, match=r"^already rehearsing 1M1$"):
        s.roll("1M1", tc("01:00:10:00"), T0)
    assert s.stop(tc("01:00:30:00"), T0) == ()
    assert not s.rolling
    assert s.next_number("1M1") == 1


def test_record_starts_and_ends_a_take_with_positions_and_times() -> None:
    s = recording()
    (started,) = s.roll("1M1", tc("01:00:10:00"), T0)
    assert started == TakeStarted(Take("1M1", 1, "01:00:10:00", T0))
    assert s.take == started.take
    (ended,) = s.stop(tc("01:00:20:12"), T0 + timedelta(seconds=11))
    # 10 s and 12 frames at 24 fps.
    assert ended == TakeEnded(
        Take("1M1", 1, "01:00:10:00", T0, tc_out="01:00:20:12", ended_at=T0 + timedelta(seconds=11), duration=10.5)
    )
    assert ended.take.status is None  # a status is a judgement someone makes
    assert s.take is None
    assert not s.rolling


def test_duration_is_picture_time_at_the_actual_rate() -> None:
    s = recording()
    s.roll("1M1", tc("01:00:00:00", "23.976"), T0)
    (ended,) = s.stop(tc("01:01:00:00", "23.976"), T0)
    assert isinstance(ended, TakeEnded)
    assert ended.take.duration == float(Fraction(1440 * 1001, 24000))  # 60.06 s of real time


def test_drop_frame_timecode_is_logged_with_a_semicolon() -> None:
    s = recording()
    s.roll("1M1", tc("01:00:59;29", "29.97df"), T0)
    (ended,) = s.stop(tc("01:01:00;02", "29.97df"), T0)
    assert isinstance(ended, TakeEnded)
    assert (ended.take.tc_in, ended.take.tc_out) == ("01:00:59;29", "01:01:00;02")
    assert ended.take.duration == float(Fraction(1001, 30000))  # one frame: 00 and 01 do not exist


def test_a_locate_backwards_during_a_take_gives_no_negative_duration() -> None:
    s = recording()
    s.roll("1M1", tc("01:00:10:00"), T0)
    (ended,) = s.stop(tc("01:00:05:00"), T0)
    assert isinstance(ended, TakeEnded)
    assert ended.take.duration == 0.0


def test_stop_at_another_rate_is_refused_and_the_take_keeps_rolling() -> None:
    s = recording()
    s.roll("1M1", tc("01:00:10:00"), T0)
    with pytest.raises(SessionError, match=r"^stop position is at 25 fps but recording take 1M1-1 rolled at 24$"):
        s.stop(tc("01:00:20:00", "25"), T0)
    assert s.rolling


def test_take_numbers_count_up_per_cue() -> None:
    s = recording()
    assert [take_of(s).number for _ in range(3)] == [1, 2, 3]
    assert take_of(s, cue="1M2").label == "1M2-1"
    assert take_of(s).label == "1M1-4"
    assert s.next_number("1M1") == 5
    assert s.next_number("1M2") == 2


def test_rehearsals_between_takes_do_not_use_numbers() -> None:
    s = recording()
    take_of(s)
    s.set_mode(Mode.REHEARSE)
    s.roll("1M1", tc("01:00:10:00"), T0)
    s.stop(tc("01:00:12:00"), T0)
    s.set_mode(Mode.RECORD)
    assert take_of(s).number == 2


def test_numbering_is_seeded_from_the_store_and_never_goes_down() -> None:
    s = Session()
    s.load(["1M1", "1M2"], next_numbers={"1M1": 7, "3M1": 2})
    s.set_mode(Mode.RECORD)
    assert take_of(s).number == 7
    # A reload with older figures (a stale store read) must not bring number 7 back.
    s.load(["1M1", "1M2"], next_numbers={"1M1": 3, "1M2": 4})
    assert s.next_number("1M1") == 8
    assert s.next_number("1M2") == 4
    with pytest.raises(SessionError, match=r"^cue 1M1: next take number must be 1 or more, not 0$"):
        s.load(["1M1"], next_numbers={"1M1": 0})


def test_pickups_and_wild_takes_are_marked() -> None:
    s = recording()
    pickup = take_of(s, pickup_bar=33)
    assert (pickup.pickup_bar, pickup.wild) == (33, False)
    wild = take_of(s, wild=True)
    assert (wild.pickup_bar, wild.wild, wild.number) == (None, True, 2)
    for bad in (0, -1, True):
        with pytest.raises(SessionError, match="pickup bar must be 1 to 100000"):
            s.roll("1M1", tc("01:00:10:00"), T0, pickup_bar=bad)
    assert not s.rolling
    assert s.next_number("1M1") == 3


def test_times_must_be_timezone_aware() -> None:
    s = recording()
    with pytest.raises(SessionError, match="timezone-aware"):
        s.roll("1M1", tc("01:00:10:00"), datetime(2026, 3, 2, 14, 30))  # noqa: DTZ001
    assert not s.rolling


def test_the_stored_copy_of_the_rolling_take_carries_its_id_to_the_end() -> None:
    s = recording()
    (started,) = s.roll("1M1", tc("01:00:10:00"), T0)
    assert isinstance(started, TakeStarted)
    s.stored(replace(started.take, id=41))
    (ended,) = s.stop(tc("01:00:11:00"), T0)
    assert isinstance(ended, TakeEnded)
    assert ended.take.id == 41
    with pytest.raises(SessionError, match=r"^take 1M1-1 is not the take being recorded$"):
        s.stored(ended.take)


# --- roles ---------------------------------------------------------------------------------------


def test_the_role_table() -> None:
    assert {role: sorted(a.name for a in actions) for role, actions in PERMISSIONS.items()} == {
        Role.CONDUCTOR: ["ARM", "EDIT_CUES", "PLAY", "RECORD", "SET_STATUS", "WRITE_NOTES"],
        Role.ENGINEER: ["ARM", "EDIT_CUES", "IMPORT_PICTURE", "PAIR", "PLAY", "RECORD", "SET_STATUS", "WRITE_NOTES"],
        Role.EDITOR: ["ARM", "EDIT_CUES", "IMPORT_PICTURE", "PLAY", "SET_STATUS", "WRITE_NOTES"],
        Role.MUSICIAN: [],
    }
    assert allowed(Role.EDITOR, Action.PLAY)
    assert not allowed(Role.EDITOR, Action.RECORD)
    require(None, Action.RECORD)  # the system itself
    with pytest.raises(SessionError, match=r"^a musician may not write take notes$"):
        require(Role.MUSICIAN, Action.WRITE_NOTES)
    with pytest.raises(SessionError, match=r"^an editor may not roll or stop in record$"):
        require(Role.EDITOR, Action.RECORD)


def test_commands_check_the_callers_role() -> None:
    s = Session()
    with pytest.raises(SessionError, match=r"^a musician may not arm cues or change mode$"):
        s.load(["1M1"], role=Role.MUSICIAN)
    s.load(["1M1"], role=Role.EDITOR)
    with pytest.raises(SessionError, match="a musician may not"):
        s.roll("1M1", tc("01:00:10:00"), T0, role=Role.MUSICIAN)
    # An editor may rehearse but not record.
    s.roll("1M1", tc("01:00:10:00"), T0, role=Role.EDITOR)
    s.stop(tc("01:00:11:00"), T0, role=Role.EDITOR)
    s.set_mode(Mode.RECORD, role=Role.ENGINEER)
    with pytest.raises(SessionError, match=r"^an editor may not roll or stop in record$"):
        s.roll("1M1", tc("01:00:10:00"), T0, role=Role.EDITOR)
    s.roll("1M1", tc("01:00:10:00"), T0, role=Role.CONDUCTOR)
    with pytest.raises(SessionError, match=r"^an editor may not roll or stop in record$"):
        s.stop(tc("01:00:11:00"), T0, role=Role.EDITOR)
    assert s.rolling
    s.stop(tc("01:00:11:00"), T0, role=Role.ENGINEER)
    with pytest.raises(SessionError, match=r"^a musician may not arm cues or change mode$"):
        s.set_mode(Mode.REHEARSE, role=Role.MUSICIAN)


# --- edits and history ---------------------------------------------------------------------------


def test_an_edit_returns_the_new_take_and_one_record_per_changed_field() -> None:
    take = replace(take_of(recording()), id=5)
    at = T0 + timedelta(minutes=1)
    new, edits = apply_edit(take, {"status": "print", "pickup_bar": 33, "wild": True}, Role.ENGINEER, at)
    assert (new.status, new.pickup_bar, new.wild, new.version) == (TakeStatus.PRINT, 33, True, 1)
    assert edits == (
        TakeEdit(5, "status", None, "print", Role.ENGINEER, at),
        TakeEdit(5, "pickup_bar", None, "33", Role.ENGINEER, at),
        TakeEdit(5, "wild", "false", "true", Role.ENGINEER, at),
    )
    back, edits = apply_edit(new, {"status": None, "pickup_bar": None}, Role.CONDUCTOR, at)
    assert edits == (
        TakeEdit(5, "status", "print", None, Role.CONDUCTOR, at),
        TakeEdit(5, "pickup_bar", "33", None, Role.CONDUCTOR, at),
    )
    assert (back.status, back.pickup_bar, back.version) == (None, None, 2)


def test_notes_are_appended_with_their_authors_role() -> None:
    take = take_of(recording())
    at = T0 + timedelta(minutes=2)
    one, e1 = apply_edit(take, {"note": "  lovely horns "}, Role.CONDUCTOR, at)
    two, e2 = apply_edit(one, {"note": "clip in bar 12"}, Role.ENGINEER, at)
    assert two.notes == (Note(Role.CONDUCTOR, "lovely horns", at), Note(Role.ENGINEER, "clip in bar 12", at))
    assert e1 + e2 == (
        TakeEdit(None, "note", None, "lovely horns", Role.CONDUCTOR, at),
        TakeEdit(None, "note", None, "clip in bar 12", Role.ENGINEER, at),
    )
    assert two.version == 2


def test_setting_a_field_to_its_value_records_nothing() -> None:
    take = take_of(recording())
    same, edits = apply_edit(take, {"status": None, "wild": False}, Role.ENGINEER, T0)
    assert same is take
    assert edits == ()


def test_status_names_and_aliases() -> None:
    assert TakeStatus.parse("circled") is TakeStatus.PRINT
    assert TakeStatus.parse("False Start") is TakeStatus.FALSE_START
    assert TakeStatus.parse("BREAKDOWN") is TakeStatus.BREAKDOWN
    assert TakeStatus.parse(TakeStatus.HOLD) is TakeStatus.HOLD
    with pytest.raises(SessionError, match=r"^unknown take status 'great' \(known: false_start, breakdown"):
        TakeStatus.parse("great")


@pytest.mark.parametrize(
    ("changes", "role", "message"),
    [
        ({"tc_in": "01:00:00:00"}, Role.ENGINEER, r"^take 1M1-1: 'tc_in' cannot be edited \(editable: status, "),
        ({"status": "great"}, Role.ENGINEER, r"^unknown take status 'great'"),
        ({"status": 3}, Role.ENGINEER, r"^a take status must be text, not 3$"),
        ({"pickup_bar": 0}, Role.ENGINEER, r"^take 1M1-1: pickup bar must be a bar number \(1 to 100000\), not 0$"),
        ({"pickup_bar": "33"}, Role.ENGINEER, r"not '33'$"),
        ({"wild": "yes"}, Role.ENGINEER, r"^take 1M1-1: wild must be true or false, not 'yes'$"),
        ({"note": "   "}, Role.ENGINEER, r"^take 1M1-1: a note needs some text"),
        ({"note": "nice"}, Role.MUSICIAN, r"^a musician may not write take notes$"),
        ({"status": "print"}, Role.MUSICIAN, r"^a musician may not set a take's status or marks$"),
        # Nothing is applied when one of the changes is refused.
        ({"note": "nice", "status": "print"}, Role.MUSICIAN, r"^a musician may not write take notes$"),
    ],
)
def test_edits_that_are_refused(changes: dict[str, object], role: Role, message: str) -> None:
    take = take_of(recording())
    with pytest.raises(SessionError, match=message):
        apply_edit(take, changes, role, T0)


def test_a_take_validates_itself() -> None:
    with pytest.raises(SessionError, match=r"^take 1M1-0: take numbers start at 1$"):
        Take("1M1", 0, "01:00:00:00", T0)
    with pytest.raises(SessionError, match="tc_out and ended_at are set together"):
        Take("1M1", 1, "01:00:00:00", T0, tc_out="01:00:01:00")
    with pytest.raises(SessionError, match=r"duration -1\.0 is negative"):
        Take("1M1", 1, "01:00:00:00", T0, duration=-1.0)
    with pytest.raises(SessionError, match="pickup bar must be 1 to 100000, not 0"):
        Take("1M1", 1, "01:00:00:00", T0, pickup_bar=0)
    with pytest.raises(SessionError, match="started_at must be a timezone-aware"):
        Take("1M1", 1, "01:00:00:00", datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(SessionError, match="a note needs some text"):
        Note(Role.ENGINEER, "", T0)


# --- properties ----------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.sampled_from(["1M1", "1M2", "2M1"]), st.sampled_from(list(Mode))), max_size=40))
def test_numbers_per_cue_are_consecutive_from_one(rolls: list[tuple[str, Mode]]) -> None:
    s = Session()
    s.load(["1M1", "1M2", "2M1"])
    seen: dict[str, list[int]] = {}
    for cue, mode in rolls:
        s.set_mode(mode)
        for event in s.roll(cue, tc("01:00:00:00"), T0) + s.stop(tc("01:00:01:00"), T0):
            if isinstance(event, TakeEnded):
                seen.setdefault(cue, []).append(event.take.number)
    for cue, numbers in seen.items():
        assert numbers == list(range(1, len(numbers) + 1)), cue
    expected = {cue: sum(1 for c, m in rolls if c == cue and m is Mode.RECORD) for cue in s.cues}
    assert {cue: s.next_number(cue) - 1 for cue in s.cues} == expected


@given(
    st.sampled_from(["23.976", "24", "25", "29.97", "29.97df", "30"]),
    st.integers(0, 20 * 3600 * 24),
    st.integers(0, 3 * 3600 * 24),
)
def test_duration_is_the_frames_between_in_and_out(rate: str, start: int, length: int) -> None:
    s = recording()
    tc_in = Timecode.from_frames(start, rate)
    tc_out = Timecode.from_frames(start + length, rate)
    s.roll("1M1", tc_in, T0)
    (ended,) = s.stop(tc_out, T0)
    assert isinstance(ended, TakeEnded)
    assert ended.take.duration == float(Fraction(tc_out.frame_count - tc_in.frame_count) / tc_in.rate.fps)


# --- the engine died while rolling ---------------------------------------------------------------


def test_a_crash_ends_the_roll_and_gives_the_take_back_with_no_end() -> None:
    s = recording()
    (started,) = s.roll("1M1", tc("01:00:10:00"), T0)
    assert isinstance(started, TakeStarted)
    crashed = s.crashed()
    assert crashed == started.take
    assert crashed is not None
    assert (crashed.tc_out, crashed.ended_at, crashed.duration, crashed.status) == (None, None, None, None)
    assert not s.rolling
    assert s.crashed() is None  # nothing rolls any more
    # the number stays used, and the session can roll again at once
    (again,) = s.roll("1M1", tc("01:00:30:00"), T0 + timedelta(seconds=30))
    assert isinstance(again, TakeStarted)
    assert again.take.number == crashed.number + 1


def test_a_crash_in_a_rehearsal_ends_the_roll_with_no_take() -> None:
    s = Session()
    s.load(("1M1",))
    s.roll("1M1", tc("01:00:10:00"), T0)
    assert s.crashed() is None
    assert not s.rolling
    with pytest.raises(SessionError, match="not rolling"):
        s.stop(tc("01:00:20:00"), T0)
