"""The objective, the auxiliary statistics and the estimation actor (no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.incomplete_markets import examples
from hetspace.core.protocol import get_model
from hetspace.estimation.evaluate import EstimationActor
from hetspace.estimation.objective import (
    Objective,
    PanelArrays,
    Simulation,
    ar1_log_consumption,
    consumption_insurance,
    model_moments,
)
from hetspace.sweeps.actors import Task


def test_objective_is_quadratic_form_and_weighted_residual_norm():
    W = np.array([[2.0, 0.5], [0.5, 1.0]])
    obj = Objective.build(["a", "b"], [1.0, 2.0], W)
    moments = {"a": 1.5, "b": 1.0, "unused": 9.0}
    g = np.array([0.5, -1.0])
    assert obj.value(moments) == pytest.approx(g @ W @ g, rel=1e-14)
    assert np.sum(obj.weighted(moments) ** 2) == pytest.approx(g @ W @ g, rel=1e-14)


def _panel_from_log(logc: np.ndarray, logy: np.ndarray) -> PanelArrays:
    return PanelArrays(consumption=np.exp(logc), income=np.exp(logy), assets=np.zeros_like(logc),
                       at_limit=np.zeros(logc.shape, dtype=bool))


def test_ar1_statistics_recover_a_known_process():
    # analytic special case: log c follows an AR(1) with known (a, rho, sd)
    rng = np.random.default_rng(0)
    T, H, a, rho, sd = 60, 4000, 0.1, 0.8, 0.05
    logc = np.empty((T, H))
    logc[0] = a / (1 - rho) + rng.normal(0, sd / np.sqrt(1 - rho**2), H)
    for t in range(1, T):
        logc[t] = a + rho * logc[t - 1] + rng.normal(0, sd, H)
    stats = ar1_log_consumption(_panel_from_log(logc, np.zeros_like(logc)))
    assert stats["c_ar1_rho"] == pytest.approx(rho, abs=0.005)
    assert stats["c_ar1_const"] == pytest.approx(a, abs=0.003)
    assert stats["c_ar1_resid_sd"] == pytest.approx(sd, rel=0.01)


def test_insurance_slope_of_a_known_pass_through():
    rng = np.random.default_rng(1)
    logy = rng.normal(0, 0.3, (10, 2000))
    logc = 0.4 * logy + 0.2
    stats = consumption_insurance(_panel_from_log(logc, logy))
    assert stats["insurance_slope"] == pytest.approx(0.4, abs=1e-12)
    assert stats["insurance_resid_sd"] == pytest.approx(0.0, abs=1e-12)


def test_simulated_moments_use_common_random_numbers():
    params, numerics = examples.huggett_1993(n_a=120)
    model = get_model("incomplete_markets")
    sol = model.solve(params, numerics)
    sim = Simulation(statistics="panel_moments", n_households=300, n_periods=10, n_sims=2,
                     seed=5)
    first, again = model_moments(sol, sim, model), model_moments(sol, sim, model)
    assert first == again
    other = model_moments(sol, Simulation(statistics="panel_moments", n_households=300,
                                          n_periods=10, n_sims=2, seed=6), model)
    assert other != first
    # the simulated panel is drawn from the stationary distribution: its mean consumption is
    # the analytic one up to Monte Carlo error (endowment mean 0.8826; s.d. of a household
    # mean over 10 periods is below 0.45 / sqrt(10), so below 0.015 over 600 households)
    assert first["consumption_mean"] == pytest.approx(sol.moments()["consumption_mean"],
                                                      abs=0.015)


def test_actor_fails_a_trial_on_non_convergence_but_raises_on_a_bug():
    params, numerics = examples.huggett_1993(n_a=120)
    actor = EstimationActor("incomplete_markets")
    ok = actor.evaluate(Task("ok", params, numerics, 0))
    assert ok.status == "ok" and "mpc_mean" in ok.moments
    failing = actor.evaluate(Task("bad", params.with_(gamma=3.0),
                                  numerics.with_(max_iter_household=2), 0))
    assert failing.status == "failed"
    assert failing.error.startswith("warm: SolverConvergenceError")
    # anything but non-convergence propagates (in a study it stops the study)
    with pytest.raises(InvalidParamsError, match="must be an incomplete_markets Params"):
        actor.evaluate(Task("bug", None, numerics, 0))
