"""The steady-state actor as a plain object: warm starts, cold retry, failed rows."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from hetspace.core import get_model
from hetspace.core.incomplete_markets.examples import huggett_1993
from hetspace.sweeps import SteadyStateActor, Task
from hetspace.sweeps.actors import CallOrder, line_position

from .conftest import ARMINGTON_BASELINE


def _task(key: str, numerics=None, **changes) -> Task:
    model = get_model("armington")
    params = model.Params(**{**ARMINGTON_BASELINE, **changes})
    return Task(key, params, numerics or model.Numerics(), 0)


def test_warm_started_point_matches_a_cold_solve() -> None:
    warm_actor, cold_actor = SteadyStateActor("armington"), SteadyStateActor("armington")
    first = warm_actor.evaluate(_task("a", sigma=2.0))
    warm = warm_actor.evaluate(_task("b", sigma=2.2))
    cold = cold_actor.evaluate(_task("b", sigma=2.2))
    assert first.status == warm.status == cold.status == "ok"
    assert (first.warm_start, warm.warm_start, cold.warm_start) == (False, True, False)
    assert warm_actor.held_key == "b"
    for name, value in cold.moments.items():  # solver tol 1e-11 on trade imbalances
        np.testing.assert_allclose(warm.moments[name], value, rtol=1e-9, err_msg=name)


def test_failed_warm_solve_is_retried_cold_then_recorded() -> None:
    model = get_model("armington")
    actor = SteadyStateActor("armington")
    assert actor.evaluate(_task("a")).ok
    hopeless = model.Numerics(max_iter=1, tol=1e-14)
    row = actor.evaluate(_task("b", numerics=hopeless, sigma=5.0))
    assert row.status == "failed" and row.cold_retry is True
    assert row.error.startswith("warm: SolverConvergenceError") and "; cold: " in row.error
    assert row.moments == {}
    assert actor.held_key == "a"  # the held steady state survives a failure
    assert actor.held_info()["key"] == "a"


def test_region_shock_from_the_held_steady_state() -> None:
    actor = SteadyStateActor("armington")
    actor.evaluate(_task("a"))
    shocked = actor.region_shock(0, -0.05)
    direct = get_model("armington").solve(
        get_model("armington").Params(**{**ARMINGTON_BASELINE, "A": [1.9, 1.0, 1.0]}))
    np.testing.assert_allclose(shocked["moments"]["welfare"], direct.moments()["welfare"],
                               rtol=1e-9)


def test_batch_gives_the_rows_of_one_call_per_point_and_survives_a_failed_point() -> None:
    model = get_model("armington")
    hopeless = model.Numerics(max_iter=1, tol=1e-14)
    tasks = [_task("a", sigma=2.0), _task("b", numerics=hopeless, sigma=2.1),
             _task("c", sigma=2.2)]
    batched = SteadyStateActor("armington").evaluate_batch(tasks)
    single_actor = SteadyStateActor("armington")
    single = [single_actor.evaluate(t) for t in tasks]
    assert [r.key for r in batched] == ["a", "b", "c"]
    assert [r.status for r in batched] == [r.status for r in single] == ["ok", "failed", "ok"]
    assert batched[1].cold_retry is True and "; cold: " in batched[1].error
    assert batched[2].warm_start is True  # from "a", held across the failure
    for name, value in single[2].moments.items():  # solver tol 1e-11
        np.testing.assert_allclose(batched[2].moments[name], value, rtol=1e-9, err_msg=name)


def test_line_position_of_params() -> None:
    model = get_model("armington")
    a, b = model.Params(**ARMINGTON_BASELINE), model.Params(**{**ARMINGTON_BASELINE,
                                                              "sigma": 2.5, "kappa": 1.5})
    ahead = model.Params(**{**ARMINGTON_BASELINE, "sigma": 3.5, "kappa": 2.5})  # b + 2 (b - a)
    back = model.Params(**{**ARMINGTON_BASELINE, "sigma": 2.25, "kappa": 1.25})  # midway
    off = model.Params(**{**ARMINGTON_BASELINE, "sigma": 3.0, "kappa": 1.5})
    far = model.Params(**{**ARMINGTON_BASELINE, "sigma": 4.0, "kappa": 3.0})  # t = 3
    assert line_position(a, b, ahead) == pytest.approx(2.0, rel=1e-12)
    assert line_position(a, b, back) == pytest.approx(-0.5, rel=1e-12)
    assert line_position(a, b, off) is None
    assert line_position(a, b, far) is None  # beyond MAX_EXTRAPOLATION
    assert line_position(a, a, b) is None  # no line through one point
    across = model.Params(**{**ARMINGTON_BASELINE, "sigma": 2.50002, "kappa": 1.49999})
    assert line_position(a, b, across) is None  # a tiny step, mostly across the line
    shocked = model.Params(**{**ARMINGTON_BASELINE, "sigma": 3.0, "kappa": 2.0,
                              "A": [2.0, 1.0, 1.5]})
    assert line_position(a, b, shocked) is None  # another field moved too


def test_actor_extrapolates_along_a_row_and_matches_a_cold_solve() -> None:
    # three Huggett (1993) economies on a line in (gamma, a_low); the third is solved
    # from the extrapolation of the first two, and must land where a cold solve does
    # (to the r search's bracket, tol_r = 1e-11)
    tasks = []
    for i, (gamma, limit) in enumerate([(1.5, -2.0), (1.6, -2.1), (1.7, -2.2)]):
        params, numerics = huggett_1993(gamma, limit, n_a=60)
        tasks.append(Task(f"h{i}", params, numerics, 0))
    actor, cold = SteadyStateActor("incomplete_markets"), SteadyStateActor("incomplete_markets")
    rows = [actor.evaluate(t) for t in tasks]
    assert actor.extrapolated == 1 and all(r.status == "ok" for r in rows)
    reference = cold.evaluate(tasks[2])
    assert abs(rows[2].moments["r"] - reference.moments["r"]) <= 2 * numerics.tol_r
    np.testing.assert_allclose(actor.held.c, cold.held.c, atol=1e-8)
    # numerical diagnostics travel beside the moments, not among them
    assert rows[2].diagnostics["market_clearing_residual"] == pytest.approx(
        actor.held.residuals["market_clearing"])
    assert rows[2].diagnostics["euler_error_max_log10"] < -3.0
    assert not set(rows[2].diagnostics) & set(rows[2].moments)


def test_warm_starts_along_a_random_walk_match_cold_solves() -> None:
    # the moves an estimation makes (jumps, finite-difference steps of 1e-4 and 1e-9 of
    # the box, small moves), on lines or not: every warm-started (or extrapolated) solve
    # must land where a cold solve does, to the r search's bracket (2 tol_r)
    rng = np.random.default_rng(7)
    lo, hi = np.array([1.5, 0.98, -4.0]), np.array([2.5, 0.99, -2.0])
    base, numerics = huggett_1993(n_a=80)
    actor = SteadyStateActor("incomplete_markets")
    x = (lo + hi) / 2
    for k in range(30):
        kind = k % 4
        if kind == 0:
            x = lo + rng.random(3) * (hi - lo)
        else:
            x = x.copy()
            i = rng.integers(3)
            x[i] += rng.choice([-1.0, 1.0]) * (hi - lo)[i] * (1e-4, 1e-9, 0.02)[kind - 1]
            x = np.clip(x, lo, hi)
        params = base.with_(gamma=x[0], beta=x[1], a_low=x[2])
        row = actor.evaluate(Task(f"w{k}", params, numerics, 0))
        cold = get_model("incomplete_markets").solve(params, numerics)
        assert row.status == "ok", row.error
        assert abs(actor.held.r - cold.r) <= 2 * numerics.tol_r, (k, x)


def test_actor_walks_a_spatial_chain_judging_lines_on_its_input_params() -> None:
    # a spatial solution's params hold the equilibrium w, P, T, r: the actor keeps the
    # params it was asked for to judge lines; incomplete_markets does not extrapolate the
    # spatial closure (its outer loop stalled from such a start), so every warm start is
    # the held solution. Tolerances as for warm vs cold in the spatial tests
    # (tol_spatial = 1e-6 on goods and population residuals).
    model = get_model("incomplete_markets")
    chi = np.array([[1.0, 0.03, 0.02], [0.04, 1.0, 0.03], [0.02, 0.05, 1.0]])
    A = np.array([[1.0, 0.6, 0.5], [0.6, 1.05, 0.6], [0.5, 0.6, 0.95]])
    numerics = model.Numerics(n_a=60, a_max=30.0)
    actor = SteadyStateActor("incomplete_markets")
    for i, theta in enumerate([0.5, 0.53, 0.56]):
        params = model.Params(gamma=1.0, beta=0.988, omega=0.987, e_grid=(1.0,), Pi=((1.0,),),
                              a_low=-0.6, chi=chi, theta=theta,
                              closure="spatial", A=A, alpha_agg=0.04, sigma_trade=5.0,
                              kappa_transfer=(0.1, -0.05, 0.0))
        assert actor.evaluate(Task(f"s{i}", params, numerics, 0)).ok
        assert actor._inputs[1] is params
    assert line_position(*actor._inputs, params.with_(theta=0.59)) == pytest.approx(1.0)
    assert actor.extrapolated == 0
    cold = model.solve(params, numerics)
    np.testing.assert_allclose(actor.held.w, cold.w, rtol=1e-5)
    np.testing.assert_allclose(actor.held.population, cold.population, rtol=1e-5)
    assert abs(actor.held.r - cold.r) <= 1e-7


def test_failed_extrapolated_start_falls_back_to_the_held_solution(toy_model, monkeypatch) -> None:
    # a model whose extrapolated starts never converge: the held solution is tried next,
    # so the point is solved warm without a cold retry
    from hetspace.core.errors import SolverConvergenceError
    from hetspace.core.protocol import REGISTRY, register_model

    poison = object()

    def solve(params, numerics=None, warm_start=None):
        if warm_start is poison:
            raise SolverConvergenceError("extrapolated start")
        return toy_model.solve(params, numerics, warm_start)

    monkeypatch.setattr(REGISTRY, "_loaded", dict(REGISTRY._loaded))
    register_model(dataclasses.replace(toy_model, name="toy_line", solve=solve,
                                       extrapolate=lambda previous, last, t: poison))
    actor = SteadyStateActor("toy_line")
    rows = [actor.evaluate(Task(f"t{a}", toy_model.Params(a=a), toy_model.Numerics(), 0))
            for a in (1.0, 2.0, 3.0)]
    assert actor.extrapolated == 1
    assert rows[2].status == "ok" and rows[2].cold_retry is False
    assert actor.held_key == "t3.0"
    np.testing.assert_allclose(actor.held.x, [3.0 ** 0.5], rtol=1e-12)


def test_calls_run_one_at_a_time_in_the_order_of_their_numbers() -> None:
    order, gate = [], CallOrder(grace=5.0)

    def call(seq: int | None) -> None:
        with gate.turn(seq):
            with gate.turn():  # re-entrant: the thread inside does not wait for itself
                order.append(seq)

    arriving = [3, 1, None, 2, 0, None]  # numbered calls out of order, two queries
    threads = [threading.Thread(target=call, args=(seq,)) for seq in arriving]
    with gate.turn(None):  # something runs while they all arrive
        for k, thread in enumerate(threads):
            thread.start()
            deadline = time.monotonic() + 10
            while gate._arrivals < k + 2 and time.monotonic() < deadline:
                time.sleep(1e-3)
        assert order == []
    for thread in threads:
        thread.join(timeout=10)
    assert order == [None, None, 0, 1, 2, 3]  # queries first (in arrival order), then numbers


def test_a_call_whose_predecessor_never_comes_still_runs_and_order_resumes() -> None:
    gate, order = CallOrder(grace=0.2), []

    def call(seq: int) -> None:
        with gate.turn(seq):
            order.append(seq)

    call(0)
    late = threading.Thread(target=call, args=(2,))  # number 1 never arrives (lost)
    late.start()
    late.join(timeout=10)
    assert not late.is_alive() and order == [0, 2]
    call(3)
    assert order == [0, 2, 3] and gate._expected == 4


def test_after_a_restart_the_expected_number_lets_the_next_call_in_at_once() -> None:
    gate, order = CallOrder(grace=30.0), []  # a wait for the grace would stall the test
    gate.expect(7)  # the ping of a restarted actor: calls 0-6 went with the old process

    def call(seq: int) -> None:
        with gate.turn(seq):
            order.append(seq)

    thread = threading.Thread(target=call, args=(7,))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and order == [7]
