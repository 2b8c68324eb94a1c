"""Driver-side scheduling of points over steady-state actors with ``ray.wait``.

Points are ordered into continuation chains (:func:`~hetspace.sweeps.points.order_chains`),
one per actor. Each actor walks its chain in *batches*: one call evaluates
several consecutive points (:meth:`~hetspace.sweeps.actors.SteadyStateActor.evaluate_batch`,
warm-starting along the chain), so the fixed cost of a call (Ray's task
machinery, the driver's bookkeeping) is paid once per batch rather than per
point. Up to ``depth`` calls per actor are in flight, so an actor never waits
for the driver between batches.

Batch size: the first call of a run carries one point (the time of a solve is
not known yet); afterwards a batch holds about ``batch_seconds`` of the
actor's work (from the median ``t_eval`` of its last rows), at most
``max_batch`` points, and at most the actor's share of the remaining work:
remaining points / (live actors x depth) solves of the typical (median)
length. Batches thus shrink towards the end of a sweep, more so on a slower
actor (a harder part of the grid, a busier core).

An idle actor takes the next unstarted chain, or else steals the back half of
the longest remaining chain (rounded up, so also a last single point; all of
the points queued for an actor that is restarting or gone). When no point is
left to take and an actor has nothing in flight, the driver withdraws the
largest call that waits on another actor behind the one it is solving, if the
idle actor would finish it sooner (at its own recent solve times, against the
other's with half its running call still to go)
(:meth:`~hetspace.sweeps.pool.SteadyStatePool.withdraw`; it succeeds only if
that call has not started) and submits its points to the idle actor: so the
actors finish together, and calls stay pipelined to the end of a sweep. When an actor
dies its lost calls are resubmitted (Ray restarts the process;
``max_task_retries = 0`` means Ray itself replays nothing): every point of a
lost batch counts one attempt and goes back to the front of its chain; a
point that was lost before is sent again alone, with nothing else in flight
on that actor, so a point that kills its actor cannot take its neighbours
down with it again. A point whose evaluation was lost
``max_attempts`` times is recorded as failed. An actor that died more often
than its restarts allow leaves the pool and its chain goes back to the
others. A restarting actor is pinged until it answers before it gets new
points. The driver delivers each point's row exactly once (``on_row``).
``ActorPool`` is not used: it loses the input of a failed call.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError

from hetspace.core.errors import HetspaceError

from .actors import STATUS_FAILED, WITHDRAWN, Task
from .points import Point, order_chains
from .pool import SteadyStatePool

logger = logging.getLogger(__name__)

RowCallback = Callable[[Point, dict[str, Any]], None]

#: Work per call once solve times are known (seconds), and the most points per call.
BATCH_SECONDS = 0.5
MAX_BATCH = 64
#: Rows whose median ``t_eval`` sizes the batches.
RECENT_ROWS = 16


class AllActorsDiedError(HetspaceError, RuntimeError):
    """Every actor of the pool died more often than Ray may restart it."""


@dataclasses.dataclass
class RunStats:
    """What a fan-out did: calls submitted, rows delivered, calls lost with an actor,
    calls withdrawn."""

    calls: int = 0
    rows: int = 0
    lost_calls: int = 0
    withdrawn: int = 0  # calls taken back before they started, for an idle actor
    withdrawals: list[int] = dataclasses.field(default_factory=list)  # asked for, by actor


@dataclasses.dataclass
class _Slot:
    index: int
    queue: collections.deque = dataclasses.field(default_factory=collections.deque)
    inflight: int = 0
    generation: int = 0  # incarnation of the actor process, as the driver saw it
    state: str = "ready"  # ready | restarting (pinged until it answers) | dead
    pings: int = 0
    recent: collections.deque = dataclasses.field(  # t_eval of its last rows
        default_factory=lambda: collections.deque(maxlen=RECENT_ROWS))


@dataclasses.dataclass
class _Call:
    slot: _Slot
    points: list[Point]
    generation: int
    t0: float
    seq: int  # its number on the actor (SteadyStatePool.withdraw)
    thief: _Slot | None = None  # the idle actor it is being withdrawn for
    tried: bool = False  # a withdrawal was asked for (once per call)


def run_points(pool: SteadyStatePool, points: Sequence[Point], numerics: Any,
               on_row: RowCallback, *, depth: int = 2, max_attempts: int = 3,
               max_pings: int = 30, batch_seconds: float = BATCH_SECONDS,
               max_batch: int = MAX_BATCH, on_tick: Callable[[], None] | None = None,
               tick_seconds: float = 1.0,
               chains: Sequence[Sequence[Point]] | None = None) -> RunStats:
    """Evaluate ``points`` on ``pool``; ``on_row(point, row)`` for each, as they finish.

    ``on_tick()`` (optional) is called after each round of finished calls and at
    least every ``tick_seconds`` while the driver waits (e.g. to flush a store).
    ``max_batch=1`` sends one point per call. ``chains``: ``points`` already cut into
    ``order_chains(points, len(pool))`` (e.g. while the actors started; the tour of a
    64-point grid takes a few milliseconds, with every actor waiting).
    """
    state = _Run(pool, numerics, on_row, depth, max_attempts, max_pings,
                 max(1, int(max_batch)), batch_seconds)
    if chains is None:
        chains = order_chains(points, len(pool))
    elif sorted(p.key for c in chains for p in c) != sorted(p.key for p in points):
        raise ValueError("chains must hold exactly the points to evaluate")
    state.pending.extend(collections.deque(c) for c in chains)
    state.unsubmitted = len(points)
    state.loop(on_tick, tick_seconds)
    return state.stats


class _Run:
    def __init__(self, pool, numerics, on_row, depth, max_attempts, max_pings, max_batch,
                 batch_seconds):
        self.pool, self.numerics, self.on_row = pool, numerics, on_row
        self.depth, self.max_attempts, self.max_pings = depth, max_attempts, max_pings
        self.max_batch, self.batch_seconds = max_batch, batch_seconds
        self.slots = [_Slot(i) for i in range(len(pool))]
        self.live = len(self.slots)  # actors not retired
        self.pending: collections.deque[collections.deque] = collections.deque()
        self.unsubmitted = 0  # points in pending chains and slot queues
        self.calls: dict[ray.ObjectRef, _Call] = {}
        self.pings: dict[ray.ObjectRef, _Slot] = {}
        self.attempts: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[float] = collections.deque(maxlen=RECENT_ROWS)
        self.thieves: set[int] = set()  # idle actors waiting for a withdrawn call
        self.withdrawals: dict[ray.ObjectRef, _Call] = {}  # asked, not answered yet
        self.stats = RunStats()

    def loop(self, on_tick: Callable[[], None] | None, tick_seconds: float) -> None:
        timeout = tick_seconds if on_tick is not None else None
        while True:
            self._fill()
            waiting = [*self.calls, *self.pings, *self.withdrawals]
            if not waiting:
                if self.unsubmitted:
                    raise AllActorsDiedError("every actor died; points remain unevaluated")
                return
            ready, rest = ray.wait(waiting, num_returns=1, timeout=timeout)
            if ready and rest:
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
            for ref in ready:
                if ref in self.pings:
                    self._pinged(ref)
                elif ref in self.withdrawals:
                    self._answered(ref)
                else:
                    self._collect(ref)
            if on_tick is not None:
                on_tick()

    def _fill(self) -> None:
        for slot in self.slots:
            self._fill_slot(slot)

    def _fill_slot(self, slot: _Slot) -> None:
        while slot.state == "ready" and slot.inflight < self.depth:
            batch = self._take(slot)
            if not batch:
                if not slot.inflight:
                    self._reclaim(slot)
                return
            tasks = [Task(p.key, p.params, self.numerics, p.seed, p.dynamics) for p in batch]
            ref = self.pool.submit_batch(slot.index, tasks)
            self.calls[ref] = _Call(slot, batch, slot.generation, time.perf_counter(),
                                    self.pool.sent(slot.index) - 1)
            slot.inflight += 1
            self.stats.calls += 1

    def _take(self, slot: _Slot) -> list[Point]:
        """The next batch of ``slot``'s chain (refilled from pending chains or by stealing)."""
        if not slot.queue and self.pending:
            slot.queue = self.pending.popleft()
        if not slot.queue:
            self._steal(slot)
        if not slot.queue:
            return []
        if self.attempts[slot.queue[0].key]:  # lost before: alone, nothing else in flight
            if slot.inflight:
                return []
            n = 1
        else:
            n = min(self._batch_size(slot), len(slot.queue))
            n = next((i for i in range(1, n) if self.attempts[slot.queue[i].key]), n)
        self.unsubmitted -= n
        return [slot.queue.popleft() for _ in range(n)]

    def _batch_size(self, slot: _Slot) -> int:
        if not self.recent:
            return 1
        typical = statistics.median(self.recent)
        own = self._solve_time(slot)
        by_time = int(self.batch_seconds / own)
        share = self.unsubmitted / (max(1, self.live) * self.depth)  # in typical solves
        guided = math.ceil(share * (typical / own))
        return max(1, min(self.max_batch, by_time, guided))

    def _solve_time(self, slot: _Slot) -> float:
        """The typical seconds of a point on ``slot`` (its recent rows, else everyone's)."""
        rows = slot.recent or self.recent
        return max(statistics.median(rows), 1e-9) if rows else 1e-9

    def _reclaim(self, thief: _Slot) -> None:
        """Withdraw, for the idle ``thief``, the largest call waiting behind another."""
        if thief.index in self.thieves:
            return
        current = [c for c in self.calls.values() if c.generation == c.slot.generation
                   and c.slot.state == "ready"]
        first: dict[int, int] = {}  # per actor, the number of its oldest call in flight
        for call in current:
            first[call.slot.index] = min(call.seq, first.get(call.slot.index, call.seq))
        running = {c.slot.index: c for c in current if c.seq == first[c.slot.index]}
        mine = self._solve_time(thief)

        def sooner_here(c: _Call) -> bool:  # than behind the victim's running call
            theirs = self._solve_time(c.slot)
            return (len(c.points) * mine
                    <= (len(c.points) + 0.5 * len(running[c.slot.index].points)) * theirs)

        waiting = [c for c in current if c.slot is not thief and c.thief is None
                   and not c.tried and c.seq > first[c.slot.index] and sooner_here(c)]
        if not waiting:
            return
        call = max(waiting, key=lambda c: (len(c.points), c.seq))
        call.thief, call.tried = thief, True
        self.thieves.add(thief.index)
        self.stats.withdrawals.append(thief.index)
        self.withdrawals[self.pool.withdraw(call.slot.index, call.seq)] = call
        logger.debug("actor %d asks actor %d for its call %d (%d points)", thief.index,
                     call.slot.index, call.seq, len(call.points))

    def _answered(self, ref: ray.ObjectRef) -> None:
        """The answer to a withdrawal. If the call had started (or the actor died), the
        idle actor that asked is free to ask another actor."""
        call = self.withdrawals.pop(ref)
        try:
            withdrawn = bool(ray.get(ref))
        except RayError:  # the actor died or is unreachable: the call's own result tells
            withdrawn = False
        if not withdrawn and call.thief is not None and any(c is call for c in
                                                              self.calls.values()):
            self.thieves.discard(call.thief.index)
            call.thief = None

    def _withdrawn(self, call: _Call) -> None:
        """A call came back unstarted: its points go to the actor that asked for them,
        submitted at once (left in its queue, the busy actor could steal them back)."""
        self.stats.withdrawn += 1
        self.unsubmitted += len(call.points)
        thief = call.thief
        if thief is not None and thief.state == "ready":
            thief.queue.extendleft(reversed(call.points))
            self._fill_slot(thief)
        else:
            self.pending.appendleft(collections.deque(call.points))

    def _steal(self, slot: _Slot) -> None:
        victim = max((s for s in self.slots if s is not slot), key=lambda s: len(s.queue),
                     default=None)
        if victim is None or not victim.queue:
            return
        # the back half (a last single point too: better now here than after the
        # victim's calls in flight); all of it if the victim is restarting or gone
        keep = len(victim.queue) // 2 if victim.state == "ready" else 0
        items = list(victim.queue)
        victim.queue = collections.deque(items[:keep])
        slot.queue = collections.deque(items[keep:])
        logger.debug("actor %d takes %d points from actor %d", slot.index, len(slot.queue),
                     victim.index)

    def _collect(self, ref: ray.ObjectRef) -> None:
        call = self.calls.pop(ref)
        call.slot.inflight -= 1
        if call.thief is not None:
            self.thieves.discard(call.thief.index)
        try:
            rows = ray.get(ref)
        except RayActorError as e:
            self._lost(call, e)
            return
        if isinstance(rows, str) and rows == WITHDRAWN:
            self._withdrawn(call)
            return
        t_roundtrip = time.perf_counter() - call.t0
        for point, row in zip(call.points, rows, strict=True):
            self.attempts[point.key] += 1
            row.update(attempts=self.attempts[point.key], t_roundtrip=t_roundtrip,
                       batch=len(call.points))
            if isinstance(row.get("t_eval"), float):
                self.recent.append(row["t_eval"])
                call.slot.recent.append(row["t_eval"])
            self.stats.rows += 1
            self.on_row(point, row)

    def _lost(self, call: _Call, error: Exception) -> None:
        """A call died with its actor: count an attempt per point, requeue, ping the actor."""
        slot = call.slot
        self.stats.lost_calls += 1
        again = []
        for point in call.points:
            self.attempts[point.key] += 1
            if self.attempts[point.key] >= self.max_attempts:
                self.stats.rows += 1
                self.on_row(point, _lost_row(point, self.attempts[point.key], error))
            else:
                again.append(point)
        self.unsubmitted += len(again)
        if slot.state == "dead":  # retired while this call was in flight
            if again:
                self.pending.appendleft(collections.deque(again))
        else:
            slot.queue.extendleft(reversed(again))
        if call.generation == slot.generation and slot.state == "ready":
            slot.generation += 1
            logger.warning("actor %d died (%s); resubmitting its points", slot.index,
                           type(error).__name__)
            if slot.generation > self.pool.max_restarts:
                self._retire(slot)
            else:
                slot.state, slot.pings = "restarting", 0
                self.pings[self.pool.ping(slot.index)] = slot

    def _pinged(self, ref: ray.ObjectRef) -> None:
        slot = self.pings.pop(ref)
        try:
            ray.get(ref)
        except RayActorError:
            slot.pings += 1
            if slot.pings >= self.max_pings:
                self._retire(slot)
            else:
                self.pings[self.pool.ping(slot.index)] = slot
            return
        slot.state = "ready"
        logger.info("actor %d is back", slot.index)

    def _retire(self, slot: _Slot) -> None:
        logger.warning("actor %d is gone for good; its points go to the others", slot.index)
        slot.state = "dead"
        self.live -= 1
        if slot.queue:
            self.pending.append(slot.queue)
            slot.queue = collections.deque()


def _lost_row(point: Point, attempts: int, error: Exception) -> dict[str, Any]:
    text = " ".join(str(error).split())[:500]
    return {"key": point.key, "status": STATUS_FAILED, "moments": {}, "n_iter": None,
            "error": f"actor died during the evaluation {attempts} times: "
                     f"{type(error).__name__}: {text}",
            "warm_start": False, "cold_retry": False, "t_solve": None, "t_eval": None,
            "started_unix": None, "actor": None, "pid": None, "attempts": attempts,
            "t_roundtrip": None, "batch": None}
