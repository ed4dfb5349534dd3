"""The stage's vital signs at ``/metrics``, in the Prometheus text format, through ``prometheus_client``.

This is the only module that imports :mod:`prometheus_client`.  It keeps a
registry of its own (never the library's global one), and almost everything
in it is read when a scrape asks: a collector walks the service's state (the
engine, the chase, the transport, the take log, every connected client and how
each screen draws) and yields metric families.  The only figures recorded as
things happen are the two histograms (how long a take took to be acknowledged,
how long each store write took), through :class:`~stage.runtime.ports.Timings`:
one ``observe`` on the event loop per take, nothing on the engine's path.

Memory and file descriptors come from the library's process collector, for
the service (``process_…``) and for the engine process (``stage_engine_process_…``,
by the engine's pid as the supervisor knows it).

What is never in it: tokens, notes, take or cue text.  A screen is labelled by
the name its page gives itself (``violins 1 desk 2``), cut to
:data:`SCREEN_NAME` characters of plain text, and its client id.
``docs/ops.md`` says what each metric means and what should alarm.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from stage.core.watchdog import EngineState
from stage.runtime.broadcast import Broadcaster
from stage.runtime.service import Service
from stage.runtime.takes import TakeLogger

__all__ = ["ACK_BUCKETS", "COMMIT_BUCKETS", "SCREEN_NAME", "StageMetrics", "mount_metrics"]

# Seconds. A take is acknowledged once the engine rolled and the store committed: a JACK period and a commit.
ACK_BUCKETS = (0.002, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
SCREEN_NAME = 48  # characters of a screen's name kept in its label
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]")


def screen_label(name: str, client_id: int) -> str:
    """A screen's label: its name as plain text, bounded, and its id (two screens may share a name)."""
    clean = " ".join(_UNPRINTABLE.sub(" ", name).split())[:SCREEN_NAME]
    return f"{clean or 'unnamed'} #{client_id}"


def _edge(sink: object) -> str:
    return str(getattr(sink, "edge", type(sink).__name__))


class _TakeTimings:
    """:class:`~stage.runtime.ports.Timings` as two histograms."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ack = Histogram("stage_take_ack_seconds", "From a roll or stop asked to its take committed and answered",
                             ["what"], buckets=ACK_BUCKETS, registry=registry)
        self.commit = Histogram("stage_store_commit_seconds", "One write of a take to the take log's database",
                                ["outcome"], buckets=COMMIT_BUCKETS, registry=registry)
        for what in ("roll", "stop"):
            self.ack.labels(what)
        for outcome in ("ok", "failed"):
            self.commit.labels(outcome)

    def acknowledged(self, what: str, seconds: float) -> None:
        self.ack.labels(what).observe(seconds)

    def committed(self, seconds: float, *, ok: bool) -> None:
        self.commit.labels("ok" if ok else "failed").observe(seconds)


class _StageCollector(Collector):
    """The service's state, read at each scrape."""

    def __init__(self, service: Service, broadcaster: Broadcaster | None, takes: TakeLogger | None) -> None:
        self.service = service
        self.broadcaster = broadcaster
        self.takes = takes

    def collect(self) -> Iterable[Metric]:
        yield from self._engine()
        yield from self._clock()
        if self.takes is not None:
            yield from self._takes(self.takes)
        if self.broadcaster is not None:
            yield from self._clients(self.broadcaster)
            yield from self._screens(self.broadcaster)

    def _engine(self) -> Iterator[Metric]:
        status = self.service.engine_status
        state = GaugeMetricFamily("stage_engine_state", "1 for the engine's state now (running, stalled, …)",
                                  labels=["state"])
        for s in EngineState:
            state.add_metric([s.value], 1.0 if s is status.state else 0.0)
        yield state
        yield GaugeMetricFamily("stage_engine_up", "1 while the engine takes commands (or runs without MIDI by "
                                "design)", value=1.0 if status.up else 0.0)
        yield CounterMetricFamily("stage_engine_restarts", "Engine processes restarted since the service started",
                                  value=status.restarts)
        yield CounterMetricFamily("stage_engine_faults", "Cycles of the running engine whose logic raised",
                                  value=status.faults)
        ready = self.service.engine_ready
        yield GaugeMetricFamily("stage_midi_up", "1 when the engine has its JACK MIDI ports",
                                value=1.0 if ready is not None and ready.midi else 0.0)
        stats = self.service.stats
        # The engine's own counts, since its process started (a restart starts them again: rate() reads it); none
        # until it has reported once.
        for name, value, doc in (
            ("stage_engine_cycles", None if stats is None else stats.cycles, "Engine cycles (JACK periods) run"),
            ("stage_engine_xruns", None if stats is None else stats.xruns, "JACK xruns the engine saw"),
            ("stage_engine_late_events", None if stats is None else stats.late,
             "Events sent at the start of a later cycle than due"),
            ("stage_engine_dropped_events", None if stats is None else stats.dropped,
             "Events overdue past the catch-up limit: not sent"),
            ("stage_engine_handler_errors", None if stats is None else stats.handler_errors,
             "Cycles whose handler raised"),
        ):
            yield CounterMetricFamily(name, doc + " since the engine process started", value=value)

    def _clock(self) -> Iterator[Metric]:
        service = self.service
        view = service.transport
        source = GaugeMetricFamily("stage_clock_source", "1 for where picture position comes from",
                                   labels=["source"])
        source.add_metric([view.source], 1.0)
        yield source
        yield GaugeMetricFamily("stage_transport_rolling", "1 while picture rolls", value=float(view.rolling))
        yield GaugeMetricFamily("stage_transport_speed", "Picture speed (1 is play)", value=view.anchor.speed)
        yield GaugeMetricFamily("stage_picture_position_seconds", "Picture position, seconds since 00:00:00:00",
                                value=service.position())
        # The chase's figures: none while nothing is chased.
        sync = service.sync
        yield GaugeMetricFamily("stage_chase_locked", "1 while the chase follows a locked timecode stream",
                                value=None if sync is None else float(sync.locked))
        state = GaugeMetricFamily("stage_chase_state", "1 for the chase's state, by its source (mtc, ltc)",
                                  labels=["state", "source"])
        if sync is not None:
            state.add_metric([sync.state, sync.source], 1.0)
        yield state
        yield GaugeMetricFamily("stage_chase_speed", "The chase's estimated speed",
                                value=None if sync is None else sync.speed)
        stats = service.stats
        yield GaugeMetricFamily("stage_chase_error_seconds", "Where the last timecode mark said picture was, less "
                                "where the chase had it (the engine's report, about once a second)",
                                value=None if stats is None or stats.chase_error is None else stats.chase_error)
        yield CounterMetricFamily("stage_chase_quarter_frames", "MTC quarter frames received",
                                  value=None if sync is None else sync.quarter_frames)
        yield CounterMetricFamily("stage_chase_frames", "LTC frames read",
                                  value=None if sync is None else sync.frames)
        yield CounterMetricFamily("stage_chase_locates", "Locates the chase followed",
                                  value=None if sync is None else sync.locates)

    def _takes(self, takes: TakeLogger) -> Iterator[Metric]:
        yield GaugeMetricFamily("stage_takes_unstored", "Takes with writes the database has not accepted yet",
                                value=takes.unstored)
        yield GaugeMetricFamily("stage_take_rolling", "1 while a take is being recorded",
                                value=float(takes.session.take is not None and takes.session.rolling))

    def _clients(self, b: Broadcaster) -> Iterator[Metric]:
        clients = GaugeMetricFamily("stage_clients", "Clients connected, by transport and role",
                                    labels=["transport", "role"])
        counts: dict[tuple[str, str], int] = {}
        for info in b.clients.values():
            key = (info.transport, info.role.value)
            counts[key] = counts.get(key, 0) + 1
        for (transport, role), n in sorted(counts.items()):
            clients.add_metric([transport, role], n)
        yield clients
        edges = CounterMetricFamily("stage_edge_events", "What each control and state edge counted: frames, "
                                    "commands, drops (dropped_slow, dropped, unsent), errors", labels=["edge", "event"])
        for sink in b.sinks:
            stats: Any = getattr(sink, "stats", None)
            if stats is None:
                continue
            for event, n in sorted(stats.items()):
                edges.add_metric([_edge(sink), str(event)], n)
        yield edges

    def _screens(self, b: Broadcaster) -> Iterator[Metric]:
        late = GaugeMetricFamily("stage_screen_draw_late_seconds", "How late a screen draws streamer ends and "
                                 "punches (negative: early), median of its recent reports", labels=["screen"])
        p99 = GaugeMetricFamily("stage_screen_draw_error_p99_seconds", "The 99th percentile of how far from due a "
                                "screen draws, early or late", labels=["screen"])
        sync = GaugeMetricFamily("stage_screen_sync_error_seconds", "A screen's clock uncertainty (half its best "
                                 "round trip) at its last report", labels=["screen"])
        draws = CounterMetricFamily("stage_screen_draws", "Streamer ends and punches a screen reported drawing",
                                    labels=["screen"])
        off = CounterMetricFamily("stage_screen_draws_off_frame", "Of those, drawn on another frame than the nearest",
                                  labels=["screen"])
        for client_id, stats in sorted(b.draws.items()):
            info = b.clients.get(client_id)
            if info is None:
                continue
            label = [screen_label(info.name, client_id)]
            figures = stats.as_dict()
            if figures["late_p50_ms"] is not None:
                late.add_metric(label, figures["late_p50_ms"] / 1000)
            if figures["abs_p99_ms"] is not None:
                p99.add_metric(label, figures["abs_p99_ms"] / 1000)
            if stats.last is not None:
                sync.add_metric(label, stats.last.delay / 2)
            draws.add_metric(label, stats.count)
            off.add_metric(label, stats.off_frame)
        yield from (late, p99, sync, draws, off)


class StageMetrics:
    """The stage's registry: its collector, the take timings and both processes' memory and files."""

    def __init__(
        self, service: Service, broadcaster: Broadcaster | None = None, takes: TakeLogger | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StageCollector(service, broadcaster, takes))
        ProcessCollector(registry=self.registry)
        ProcessCollector(namespace="stage_engine", pid=lambda: self._engine_pid(service), registry=self.registry)
        info = InfoMetricFamily("stage", "What this stage runs")
        info.add_metric([], {"rate": service.rate.name, "store": "none" if takes is None else
                             takes.store.url.split(":", 1)[0]})
        self.registry.register(_Fixed([info]))
        self.timings = _TakeTimings(self.registry)
        if takes is not None:
            takes.timings = self.timings

    @staticmethod
    def _engine_pid(service: Service) -> int | str:
        pid = service.engine_status.pid
        # No engine process (MIDI off in a test rig, or between two): the collector finds nothing and says nothing.
        return pid if pid is not None else "0"

    def text(self) -> bytes:
        """The exposition, as a scrape gets it."""
        return generate_latest(self.registry)


class _Fixed(Collector):
    """Metric families that never change (the stage's info)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


def mount_metrics(app: FastAPI, metrics: StageMetrics) -> None:
    """``GET /metrics``: no token needed, none in it."""

    async def scrape() -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    scrape.__doc__ = "The stage's vital signs in the Prometheus text format (docs/ops.md)."
    app.add_api_route("/metrics", scrape, methods=["GET"], tags=["service"], include_in_schema=True)
