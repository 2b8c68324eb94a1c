"""The driver's scheduler on a real Ray actor: batches of a chain, failures and deaths inside them.

One actor walks eight Armington economies laid out on a line (so the chain is
the given order). ``batch_seconds`` is set far above a solve so that batch sizes
follow the scheduler's count rule alone: with depth 2, the first two calls carry
one point each, the third carries points 2-4 (ceil(6 remaining / 2)), the fourth
points 5-6, the last point 7.
"""

from __future__ import annotations

import collections
import itertools
import time

import numpy as np
import ray

from hetspace.core import get_model
from hetspace.sweeps.actors import Status, Task
from hetspace.sweeps.points import Point, point_key
from hetspace.sweeps.pool import Event, Kind, SteadyStatePool
from hetspace.sweeps.scheduler import run_points

from .conftest import ARMINGTON_BASELINE

# sigma = 12 needs 11 iterations cold and 9 warm, the others at most 5 (checked
# below against direct solves), so with max_iter = 6 only point 3 fails
SIGMAS = [1.5, 1.75, 2.0, 12.0, 2.5, 3.0, 3.5, 4.0]
RULE = {"batch_seconds": 1e3, "max_batch": 8}


def _points(numerics) -> list[Point]:
    model = get_model("armington")
    out = []
    for i, sigma in enumerate(SIGMAS):
        params = model.Params(**{**ARMINGTON_BASELINE, "sigma": sigma})
        out.append(Point(index=i, values={"sigma": sigma}, shock=None, params=params,
                         key=point_key("armington", params, numerics, 0), seed=0,
                         coords=(i / (len(SIGMAS) - 1),)))
    return out


def _run(pool: SteadyStatePool, points: list[Point], numerics, **rule):
    """(stats, [(point index, row)] in the order the driver delivered them)."""
    seen: list[tuple[int, dict]] = []
    stats = run_points(pool, points, numerics, lambda p, row: seen.append((p.index, row)),
                       **{**RULE, **rule})
    return stats, seen


def _cold_welfare(sigma: float, numerics) -> float:
    model = get_model("armington")
    sol = model.solve(model.Params(**{**ARMINGTON_BASELINE, "sigma": sigma}), numerics=numerics)
    assert sol.converged
    return sol.moments()["welfare"]


def test_a_failed_point_inside_a_batch_is_a_row_and_the_chain_goes_on(ray_session) -> None:
    numerics = get_model("armington").Numerics(max_iter=6)
    with SteadyStatePool("armington", 1) as pool:
        _, seen = _run(pool, _points(numerics), numerics)
    assert sorted(i for i, _ in seen) == list(range(8))  # each point delivered once
    rows = dict(seen)
    order = sorted(rows, key=lambda i: rows[i].started_unix)
    assert order == list(range(8))  # one actor walks the chain in order
    assert [rows[i].batch for i in range(8)] == [1, 1, 3, 3, 3, 2, 2, 1]
    failed = rows[3]
    assert failed.status == "failed" and failed.cold_retry is True
    assert failed.error.startswith("warm: ") and "; cold: " in failed.error
    for i in (0, 1, 2, 4, 5, 6, 7):
        row = rows[i]
        assert row.status == "ok" and row.attempts == 1
        assert row.warm_start is (i > 0)  # point 4 starts from point 2, held across 3
        # tol 1e-11 on relative trade imbalances: moments agree to ~1e-10
        np.testing.assert_allclose(row.moments["welfare"],
                                   _cold_welfare(SIGMAS[i], numerics), rtol=1e-9)


def test_actor_death_inside_a_batch_resubmits_each_point_once(ray_session, tmp_path) -> None:
    numerics = get_model("armington").Numerics()
    marker = tmp_path / "crashed"
    # the 4th evaluation (point 3, the middle of the batch 2-4) kills the actor process.
    # Each evaluation first sleeps 50 ms: the row of point 1 leaves while point 2 runs
    # (without that pause it may still be on its way when the process dies, and
    # point 1 would count a lost attempt too: see hetspace.sweeps.pool)
    with SteadyStatePool("armington", 1, crash_after=4, crash_marker=str(marker),
                         sleep=0.05) as pool:
        _, seen = _run(pool, _points(numerics), numerics)
    assert marker.exists()
    assert sorted(i for i, _ in seen) == list(range(8))
    rows = dict(seen)
    assert {row.status for row in rows.values()} == {"ok"}
    first_pid = rows[0].pid
    for i in (2, 3, 4):  # lost with the batch (point 2 was solved, but its row died too)
        assert rows[i].attempts == 2 and rows[i].batch == 1, i  # retried alone
        assert rows[i].pid != first_pid  # by the restarted process
    assert rows[0].attempts == rows[1].attempts == 1
    assert max(row.attempts for row in rows.values()) == 2
    for i, sigma in enumerate(SIGMAS):
        np.testing.assert_allclose(rows[i].moments["welfare"], _cold_welfare(sigma, numerics),
                                   rtol=1e-9)


def test_a_point_lost_as_often_as_allowed_is_a_lost_row(ray_session, tmp_path) -> None:
    """With ``max_attempts=1`` one lost call is final: the points of the calls that died
    with the actor (the 4th evaluation exits the process) are delivered once each as
    LOST rows saying why; every other point is solved by the restarted actor.

    The batch 2-4 runs when the process dies (see the test above); the batch 5-6 is
    lost with it if it was queued by then (the usual case: it is sent when point 1's
    row arrives, while point 2 solves), so either outcome must hold."""
    numerics = get_model("armington").Numerics()
    with SteadyStatePool("armington", 1, crash_after=4, crash_marker=str(tmp_path / "c"),
                         sleep=0.05) as pool:
        stats, seen = _run(pool, _points(numerics), numerics, max_attempts=1)
    rows = dict(seen)
    assert sorted(i for i, _ in seen) == list(range(8))
    lost = sorted(i for i, row in rows.items() if row.status is Status.LOST)
    assert (lost, stats.lost_calls) in (([2, 3, 4], 1), ([2, 3, 4, 5, 6], 2))
    for i in lost:
        assert rows[i].attempts == 1 and rows[i].moments == {}
        assert rows[i].error.startswith("actor died during the evaluation 1 times: ")
    assert all(rows[i].ok for i in range(8) if i not in lost)
    assert rows[7].pid != rows[0].pid  # the restarted process


def test_one_point_per_call_gives_the_same_rows(ray_session) -> None:
    numerics = get_model("armington").Numerics()
    points = _points(numerics)
    runs = {}
    with SteadyStatePool("armington", 1) as pool:
        for max_batch in (1, 8):
            stats, seen = _run(pool, points, numerics, max_batch=max_batch)
            runs[max_batch] = (stats, dict(seen))
    assert runs[1][0].calls == 8 and runs[8][0].calls == 5  # 1, 1, 3, 2, 1 points
    for i in range(8):
        single, batched = runs[1][1][i], runs[8][1][i]
        assert single.status == batched.status == "ok"
        np.testing.assert_allclose(batched.moments["welfare"], single.moments["welfare"],
                                   rtol=1e-9)


def _events(pool: SteadyStatePool, n: int) -> list[Event]:
    """The pool's next ``n`` events (at most 60 s)."""
    out: list[Event] = []
    deadline = time.monotonic() + 60.0
    while len(out) < n and time.monotonic() < deadline:
        out += pool.wait(timeout=1.0)
    return out


def test_actor_solves_its_calls_one_at_a_time_in_order_and_answers_pings_meanwhile(
        ray_session) -> None:
    """An actor has two threads (the next call waits, unpacked, while one solves): the
    solves must still run one at a time, in the order sent, with numba's thread count
    of the actor's CPUs in the solving thread (numba's default here is the machine's)."""
    model = get_model("armington")
    points = _points(model.Numerics())
    with SteadyStatePool("armington", 1, sleep=0.15) as pool:
        pool.wait_ready()
        calls = [pool.submit(0, [Task(p.key, p.params, model.Numerics(), 0)])
                 for p in points[:4]]
        pid = ray.get(pool.ping(0))  # answered while both threads are busy with calls
        answered = time.time()
        events = _events(pool, 4)
        threads = ray.get(pool.actors[0].numba_threads.remote())
    assert {e.kind for e in events} == {Kind.DONE}
    # each call delivered once, with its own evaluations
    assert sorted(id(e.call) for e in events) == sorted(map(id, calls))
    rows = [next(e.evaluations[0] for e in events if e.call is c) for c in calls]
    assert pid == rows[0].pid and answered < rows[-1].started_unix + rows[-1].t_eval
    assert [r.key for r in rows] == [p.key for p in points[:4]]
    assert [r.warm_start for r in rows] == [False, True, True, True]
    spans = [(r.started_unix, r.started_unix + r.t_eval) for r in rows]
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert threads == 1


def test_a_call_waiting_on_an_actor_can_be_withdrawn_before_it_starts(ray_session) -> None:
    model = get_model("armington")
    p = _points(model.Numerics())
    with SteadyStatePool("armington", 1, sleep=0.3) as pool:
        pool.wait_ready()
        running = pool.submit(0, [Task(p[0].key, p[0].params, model.Numerics(), 0)])
        waiting = pool.submit(0, [Task(p[1].key, p[1].params, model.Numerics(), 0)])
        time.sleep(0.1)  # both have arrived: one sleeps, one waits for its turn
        pool.withdraw(waiting)
        pool.withdraw(running)  # started: refused, it runs to the end
        events = _events(pool, 3)
        after = pool.submit(0, [Task(p[2].key, p[2].params, model.Numerics(), 0)])
        last = _events(pool, 1)  # number 2 runs next: number 1 is not waited for
    kinds = {(e.kind, e.call is running) for e in events}
    assert kinds == {(Kind.WITHDRAWN, False), (Kind.KEPT, True), (Kind.DONE, True)}
    assert next(e for e in events if e.kind is Kind.DONE).evaluations[0].ok
    assert [e.kind for e in last] == [Kind.DONE] and last[0].call is after
    row = last[0].evaluations[0]
    assert row.status == "ok" and row.warm_start is True


def test_an_idle_actor_gets_the_calls_withdrawn_from_a_slow_one(ray_session) -> None:
    """Actor 0 sleeps 0.25 s per point, actor 1 not at all: once actor 1 has nothing left
    to take, the calls waiting on actor 0 are withdrawn and evaluated by actor 1. Every
    point is delivered once, with the value of a direct solve."""
    numerics = get_model("armington").Numerics()
    points = _points(numerics)
    with SteadyStatePool("armington", 2, sleep=[0.25, 0.0]) as pool:
        pids = pool.wait_ready()
        stats, seen = _run(pool, points, numerics, max_batch=2)
    assert sorted(i for i, _ in seen) == list(range(len(points)))
    assert stats.withdrawn >= 1 and stats.rows == len(points)
    # only the fast actor asks (the slow one would finish a call later than its owner),
    # and points do not bounce between the two
    assert set(stats.withdrawals) == {1} and stats.withdrawn <= 3
    by_pid = collections.Counter(row.pid for _, row in seen)
    assert by_pid[pids[1]] > by_pid[pids[0]]
    for i, row in seen:
        assert row.status == "ok"
        np.testing.assert_allclose(row.moments["welfare"],
                                   _cold_welfare(SIGMAS[i], numerics), rtol=1e-9)
