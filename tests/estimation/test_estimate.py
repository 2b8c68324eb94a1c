"""Estimations end to end on Ray actors (Huggett 1993 on a 120-node grid).

Exact recovery: when the data moments are the model's own at known parameters
the objective is zero there, and the estimate must reach it to solver tolerance.
The exactly identified calibration must agree with the workhorse's root-finding
calibration (``calibrate_beta_and_limit``: beta clears the bond market at the
target r in partial equilibrium, a_low hits the MPC target), which solves the
same two equations by nested Brent iterations.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from hetspace.core.incomplete_markets import examples
from hetspace.core.incomplete_markets.calibration import calibrate_beta_and_limit
from hetspace.estimation import EstimationSpec, StudyExistsError, estimate
from hetspace.estimation.evaluate import Evaluator
from hetspace.estimation.study import finished, open_study, run_trials

from .conftest import MPC_TARGET, R_TARGET, huggett_spec

pytestmark = pytest.mark.usefixtures("ray_session")


def test_exactly_identified_calibration_matches_root_finding(tmp_path):
    spec = EstimationSpec.from_dict(huggett_spec("calibration"))
    result = estimate(spec, tmp_path / "out")
    params, numerics = examples.huggett_1993(n_a=120)
    base = params.with_(closure="partial", r=R_TARGET, beta=0.99, a_low=-3.0)
    calibrated, sol = calibrate_beta_and_limit(base, numerics, MPC_TARGET,
                                               beta_bracket=(0.97, None),
                                               a_low_bracket=(-6.0, -1.5))
    assert abs(sol.aggregate_assets) < 1e-8 and sol.r == R_TARGET
    assert result.estimates["beta"] == pytest.approx(calibrated.beta, abs=1e-8)
    assert result.estimates["a_low"] == pytest.approx(calibrated.a_low, abs=1e-7)
    assert result.objective < 1e-18
    assert result.inference.df == 0 and np.isnan(result.inference.J)
    # the records: tables, plots, trials, and a finished MLflow parent run
    names = {p.name for p in result.files}
    assert {"estimates.md", "estimates.tex", "estimates.csv", "moment_fit.csv", "trials.csv",
            "objective_history.png", "moment_fit.png", "sensitivity.png"} <= names
    run = MlflowClient(result.tracking_uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["hetspace.kind"] == "estimation"
    assert run.data.metrics["est_beta"] == pytest.approx(result.estimates["beta"])
    with pytest.raises(StudyExistsError, match="--resume"):
        estimate(spec, tmp_path / "out")


def test_exact_recovery_over_identified(tmp_path):
    truth = {"beta": 0.985, "a_low": -4.0}
    targets = {"moments": ["r", "mpc_mean", "share_at_limit"], "data": {"params": truth}}
    spec = EstimationSpec.from_dict(huggett_spec("recovery", targets=targets))
    result = estimate(spec, tmp_path / "out", track=False)
    assert result.estimates["beta"] == pytest.approx(truth["beta"], abs=1e-8)
    assert result.estimates["a_low"] == pytest.approx(truth["a_low"], abs=1e-6)
    assert result.objective < 1e-18
    assert result.inference.identification.weak == ()
    assert np.all(np.isnan(result.inference.se))  # no covariance given: no standard errors
    # every evaluation is on record, in order, by phase; the last trial precedes the polish
    ev = pd.read_csv(tmp_path / "out" / "evaluations.csv")
    assert len(ev) == result.solves
    assert list(dict.fromkeys(ev["phase"])) == ["trial", "polish", "estimate", "jacobian"]
    assert (ev["phase"] == "trial").sum() == result.n_trials
    assert (ev["status"] == "ok").all() and (ev["t_eval"] > 0).all()
    assert (ev["received"] >= ev["sent"]).all()
    final = ev[ev["phase"] == "estimate"].iloc[-1]
    assert final["beta"] == pytest.approx(result.estimates["beta"], abs=0)


def test_failed_solves_are_failed_trials_and_the_study_goes_on(tmp_path):
    spec = EstimationSpec.from_dict(huggett_spec("failing", optimizer={"n_trials": 4}))
    # the household block may take 2 EGM steps: every solve fails to converge
    spec = dataclasses.replace(spec, numerics=spec.numerics.with_(max_iter_household=2))
    ev = Evaluator(spec, 2)
    try:
        study = open_study(spec, tmp_path, 2, resume=False)
        run_trials(study, spec, ev)
    finally:
        ev.shutdown()
    trials = study.get_trials()
    assert len(trials) == 4 and finished(study) == 4
    assert all(t.state == TrialState.FAIL for t in trials)
    assert all("SolverConvergenceError" in t.user_attrs["fail_reason"] for t in trials)


def test_simulated_moments_give_standard_errors_covering_the_truth(tmp_path):
    # SMM on panel moments simulated with common random numbers; the "data" panel is drawn
    # at the truth with another seed, so the estimate differs from the truth by sampling
    # error, which the standard errors (Omega from 100 panels at the estimate, times
    # 1 + 1/S) must describe: the truth lies within 4 standard errors.
    truth = {"beta": 0.99, "a_low": -3.5}
    spec = EstimationSpec.from_dict(huggett_spec(
        "smm", targets={"moments": ["consumption_log_sd", "share_at_limit", "assets_sd"],
                        "data": {"params": truth, "seed": 777}},
        simulation={"statistics": "panel_moments", "n_households": 1000, "n_periods": 10,
                    "n_sims": 2, "seed": 0},
        optimizer={"n_trials": 12, "n_startup_trials": 6}))
    result = estimate(spec, tmp_path / "out", track=False)
    inf = result.inference
    assert np.all(np.isfinite(inf.se)) and np.all(inf.se > 0)
    for i, name in enumerate(inf.names):
        assert abs(inf.estimates[i] - truth[name]) < 4.0 * inf.se[i], (name, inf)
    assert inf.df == 1 and np.isfinite(inf.J)
    assert result.objective <= result.best_trial_objective


def test_cmaes_sampler_recovers_the_truth(tmp_path):
    # CMA-ES with population = number of actors (2); the polish finishes the job, so the
    # answer must equal the truth whichever sampler led the global search
    truth = {"beta": 0.985, "a_low": -4.0}
    targets = {"moments": ["r", "mpc_mean", "share_at_limit"], "data": {"params": truth}}
    spec = EstimationSpec.from_dict(huggett_spec(
        "cmaes", targets=targets, optimizer={"n_trials": 8, "sampler": "cmaes"}))
    result = estimate(spec, tmp_path / "out", track=False)
    assert result.estimates["beta"] == pytest.approx(truth["beta"], abs=1e-8)
    assert result.estimates["a_low"] == pytest.approx(truth["a_low"], abs=1e-6)
