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
import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from hetspace.core.incomplete_markets import examples
from hetspace.core.incomplete_markets.calibration import calibrate_beta_and_limit
from hetspace.estimation import EstimationSpec, StudyExistsError, estimate
from hetspace.estimation.driver import polish
from hetspace.estimation.evaluate import EstimationActor, Evaluator
from hetspace.estimation.study import finished, open_study, run_trials
from hetspace.sweeps.actors import Evaluation
from hetspace.sweeps.points import Point, point_key
from hetspace.sweeps.pool import SteadyStatePool
from hetspace.sweeps.scheduler import run_points

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
    # a trial may fail (no equilibrium in a corner of the box: a recorded reason); nothing else
    failed = ev[ev["status"] != "ok"]
    assert (failed["phase"] == "trial").all() and failed["error"].str.len().gt(0).all()
    assert (ev["t_eval"] > 0).all() and (ev["received"] >= ev["sent"]).all()
    final = ev[ev["phase"] == "estimate"].iloc[-1]
    assert final["beta"] == pytest.approx(result.estimates["beta"], abs=0)
    # the polish's record: least squares converged, and its counts match evaluations.csv
    polished = json.loads((tmp_path / "out" / "inference.json").read_text())["polish"]
    assert polished == json.loads(json.dumps(dataclasses.asdict(result.polish)))
    assert polished["status"] in (1, 2, 3, 4) and polished["success"]
    assert polished["kept"] == "polish" and polished["active"] == []
    assert polished["x_end"] == result.estimates
    assert polished["cost_end"] <= polished["cost_start"]
    assert 2.0 * polished["cost_end"] == pytest.approx(result.objective, abs=1e-18)
    rows = ev[ev["phase"] == "polish"]
    assert len(rows) == polished["solves"]
    assert (~rows["batch"]).sum() == polished["nfev"]  # one residual per evaluation of z
    p = len(spec.names)  # each Jacobian is 2p points, sent ahead with z or after it
    assert rows["batch"].sum() == 2 * p * polished["njev"] + polished["wasted"]
    assert 0 <= polished["wasted"] <= polished["speculative"] <= rows["batch"].sum()


def test_failed_solves_are_failed_trials_and_the_study_goes_on(tmp_path):
    spec = EstimationSpec.from_dict(huggett_spec("failing", optimizer={"n_trials": 4}))
    # the household block may take 2 EGM steps: every solve fails to converge
    spec = dataclasses.replace(spec, numerics=spec.numerics.with_(max_iter_household=2))
    ev = Evaluator(spec, 2)
    try:
        study = open_study(spec, tmp_path, 2, resume=False)
        run_trials(study, spec, ev)
        # a polish whose first solve fails keeps its starting point and says why
        trials = study.get_trials()
        x0 = np.array(trials[0].user_attrs["x"])
        x, record = polish(spec, ev, x0, q0=1.0)
    finally:
        ev.shutdown()
    assert len(trials) == 4 and finished(study) == 4
    assert all(t.state == TrialState.FAIL for t in trials)
    assert all("SolverConvergenceError" in t.user_attrs["fail_reason"] for t in trials)
    assert x is x0 and record.kept == "best trial"
    assert record.status is None and not record.success
    assert record.message.startswith("stopped: solve failed during the polish")
    assert record.nfev == 1 and record.njev == 0 and np.isnan(record.cost_end)


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


def _trial_points(study) -> list[tuple[float, ...]]:
    return sorted(tuple(t.user_attrs["x"]) for t in study.get_trials()
                  if "abandoned" not in t.user_attrs)


def _recorded_points(ev, spec) -> list[tuple[float, ...]]:
    return sorted(tuple(r[n] for n in spec.names) for r in ev.records if r["phase"] == "trial")


def test_pipelined_trials_keep_the_budget_and_record_each_trial_once(tmp_path):
    # 2 actors with 2 trials in flight each, and a budget that is no multiple of 4
    n_trials, depth = 7, 2
    spec = EstimationSpec.from_dict(huggett_spec(
        "pipelined", optimizer={"n_trials": n_trials, "n_startup_trials": 3}))
    ev = Evaluator(spec, 2)
    sends = []  # per send: calls then in flight on that actor, and finished + in flight
    submit = ev.submit

    def spy(actor, *args):
        sends.append((ev.load(actor) + 1, finished(study) + len(ev.calls) + 1))
        return submit(actor, *args)

    ev.submit = spy
    try:
        study = open_study(spec, tmp_path, 2, resume=False)
        run_trials(study, spec, ev, depth=depth)
    finally:
        ev.shutdown()
    queued, budget = np.array(sends).T
    assert queued.max() == depth  # trials were queued behind running ones, never deeper
    assert budget.max() == n_trials  # and never more than the budget in flight
    trials = study.get_trials()
    assert len(trials) == n_trials == finished(study) == len(sends)
    assert not ev.calls and all(ev.load(i) == 0 for i in range(2))
    # each trial has exactly one row in evaluations.csv, with its own send time, and
    # the objective told to Optuna is the one recorded for its point
    assert _recorded_points(ev, spec) == _trial_points(study)
    rows = {tuple(r[n] for n in spec.names): r for r in ev.records}
    for t in trials:
        row = rows[tuple(t.user_attrs["x"])]
        assert row["sent"] <= row["received"]
        if t.state == TrialState.COMPLETE:
            assert row["objective"] == pytest.approx(t.value, rel=1e-12)
    assert len({r["sent"] for r in ev.records}) == n_trials


def test_an_actor_lost_with_queued_trials_requeues_each_once(tmp_path):
    # one actor, two trials in flight; the actor process exits on its 3rd evaluation
    # (once: the marker file), taking the trial it solves and possibly the queued one
    n_trials = 6
    spec = EstimationSpec.from_dict(huggett_spec(
        "lost", optimizer={"n_trials": n_trials, "n_startup_trials": 3}))
    ev = Evaluator(spec, 1)
    ev.pool.shutdown()
    ev.pool = SteadyStatePool(spec.model.name, 1, actor_class=EstimationActor, crash_after=3,
                              crash_marker=str(tmp_path / "crashed"),
                              actor_kwargs={"simulation": None})
    try:
        study = open_study(spec, tmp_path, 1, resume=False)
        run_trials(study, spec, ev, depth=2)
    finally:
        ev.shutdown()
    assert (tmp_path / "crashed").exists()
    trials = study.get_trials()
    lost = [t for t in trials if t.user_attrs.get("abandoned") == "actor died"]
    assert 1 <= len(lost) <= 2 and all(t.state == TrialState.FAIL for t in lost)
    requeued = [t.user_attrs["requeued_from"] for t in trials if "requeued_from" in t.user_attrs]
    assert sorted(requeued) == sorted(t.number for t in lost)  # each lost trial once
    done = [t for t in trials if "abandoned" not in t.user_attrs]
    assert len(done) == n_trials == finished(study)
    assert len({tuple(t.user_attrs["x"]) for t in done}) == n_trials
    assert _recorded_points(ev, spec) == _trial_points(study)  # lost calls have no row


def test_a_sweep_and_an_estimation_run_on_the_same_farm(tmp_path):
    """The estimation's evaluator and the sweeps' scheduler drive one pool: its trials
    (placed on the nearest actor) and a sweep's points (chains, batches) go through
    the same ``SteadyStatePool`` object, and the same point gives the same moments
    either way (every solve converges to tolerance from any warm start)."""
    spec = EstimationSpec.from_dict(huggett_spec("farm"))
    xs = [np.array([0.985, -4.0]), np.array([0.99, -3.0]), np.array([0.98, -5.0])]
    ev = Evaluator(spec, 2)
    try:
        trials = [ev.evaluate(x) for x in xs]
        points = [Point(index=i, values={"beta": x[0], "a_low": x[1]}, shock=None,
                        params=spec.params_at(x), seed=spec.seed, coords=tuple(x),
                        key=point_key(spec.model.name, spec.params_at(x), spec.numerics,
                                      spec.seed))
                  for i, x in enumerate(xs)]
        seen: dict[int, Evaluation] = {}
        stats = run_points(ev.pool, points, spec.numerics,
                           lambda p, e: seen.__setitem__(p.index, e))
        assert not ev.pool.busy() and ev.pool.up() == [0, 1]
    finally:
        ev.shutdown()
    assert type(ev.pool) is SteadyStatePool and stats.rows == len(xs)
    assert sorted(seen) == [0, 1, 2]
    for i, trial in enumerate(trials):
        assert trial.ok and seen[i].ok and seen[i].attempts == 1
        for name in ("r", "mpc_mean", "share_at_limit"):
            assert seen[i].moments[name] == pytest.approx(trial.moments[name], rel=1e-6,
                                                          abs=1e-9), (i, name)
    assert len(ev.records) == len(xs)  # the evaluator records its own calls only
