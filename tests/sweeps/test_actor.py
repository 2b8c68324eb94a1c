"""The steady-state actor as a plain object: warm starts, cold retry, failed rows."""

from __future__ import annotations

import numpy as np

from hetspace.core import get_model
from hetspace.sweeps import SteadyStateActor, Task

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
    assert first["status"] == warm["status"] == cold["status"] == "ok"
    assert (first["warm_start"], warm["warm_start"], cold["warm_start"]) == (False, True, False)
    assert warm_actor.held_key == "b"
    for name, value in cold["moments"].items():  # solver tol 1e-11 on trade imbalances
        np.testing.assert_allclose(warm["moments"][name], value, rtol=1e-9, err_msg=name)


def test_failed_warm_solve_is_retried_cold_then_recorded() -> None:
    model = get_model("armington")
    actor = SteadyStateActor("armington")
    assert actor.evaluate(_task("a"))["status"] == "ok"
    hopeless = model.Numerics(max_iter=1, tol=1e-14)
    row = actor.evaluate(_task("b", numerics=hopeless, sigma=5.0))
    assert row["status"] == "failed" and row["cold_retry"] is True
    assert row["error"].startswith("warm: SolverConvergenceError") and "; cold: " in row["error"]
    assert row["moments"] == {}
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
    assert [r["key"] for r in batched] == ["a", "b", "c"]
    assert [r["status"] for r in batched] == [r["status"] for r in single] == ["ok", "failed", "ok"]
    assert batched[1]["cold_retry"] is True and "; cold: " in batched[1]["error"]
    assert batched[2]["warm_start"] is True  # from "a", held across the failure
    for name, value in single[2]["moments"].items():  # solver tol 1e-11
        np.testing.assert_allclose(batched[2]["moments"][name], value, rtol=1e-9, err_msg=name)
