"""Sweeps on Ray, end to end, with real faults: actor crashes, failed points, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from hetspace.core import get_model
from hetspace.sweeps import SweepSpec, load_results, run_sweep

from .conftest import ARMINGTON_BASELINE, armington_spec


def _moments(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c.startswith("m_")]
    return df.set_index("key")[cols].sort_index()


@pytest.fixture(scope="module")
def clean_run(ray_session, tmp_path_factory):
    """A fault-free run of the 12-point Armington sweep (shared reference)."""
    spec = SweepSpec.from_dict(armington_spec())
    return spec, run_sweep(spec, tmp_path_factory.mktemp("clean"))


def test_sweep_stores_every_point_once_with_direct_solve_values(clean_run) -> None:
    spec, result = clean_run
    df = result.results
    assert result.n_evaluated == len(df) == len(spec.points) == 12
    assert df["key"].is_unique and set(df["status"]) == {"ok"}
    assert set(df["actor"]) and df["t_solve"].notna().all()
    model = get_model("armington")
    for _, row in df.iterrows():  # each stored moment equals a cold solve of that point
        p = model.Params(**{**ARMINGTON_BASELINE, "sigma": row["sigma"], "kappa": row["kappa"]})
        np.testing.assert_allclose(row["m_welfare"], model.solve(p).moments()["welfare"],
                                   rtol=1e-9)
    out = result.out_dir
    for name in ("results.parquet", "spec.yaml", "sweep.json", "tables/robustness.md",
                 "tables/robustness.tex", "tables/robustness.csv", "environment.json"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in result.plots) == [
        "real_wage_min_vs_kappa.png", "real_wage_min_vs_sigma.png", "welfare_vs_kappa.png",
        "welfare_vs_sigma.png"]
    md = (out / "tables/robustness.md").read_text()
    assert ("Welfare index (w/P) by Elasticity of substitution σ (rows) and "
            "Migration elasticity κ (columns)") in md


def test_mlflow_parent_run_has_metrics_and_artifacts(clean_run) -> None:
    _, result = clean_run
    client = MlflowClient(tracking_uri=result.tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["n_points"] == 12 and run.data.metrics["n_failed"] == 0
    assert run.data.params["model"] == "armington"
    assert run.data.tags["hetspace.kind"] == "sweep"
    names = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"spec.yaml", "results.parquet", "results.csv", "tables", "plots",
            "environment.json"} <= names
    assert str(result.tracking_uri).startswith("sqlite:///") and "mlflow.db" in result.tracking_uri


def test_rerun_resumes_without_evaluating(clean_run) -> None:
    spec, result = clean_run
    again = run_sweep(spec, result.out_dir)
    assert (again.n_evaluated, again.n_skipped) == (0, 12)
    pd.testing.assert_frame_equal(_moments(again.results), _moments(result.results))


def test_actor_killed_mid_sweep_loses_no_point(clean_run, tmp_path) -> None:
    _, clean = clean_run
    spec = SweepSpec.from_dict(armington_spec(debug={"crash_after": 4}))
    seen = []
    result = run_sweep(spec, tmp_path, progress=lambda done, failed, total: seen.append(done))
    assert (tmp_path / ".debug_crash_done").exists()  # the actor really called os._exit
    df = result.results
    assert len(df) == 12 and df["key"].is_unique and set(df["status"]) == {"ok"}
    assert seen == list(range(1, 13))  # each point reported exactly once
    assert df["attempts"].max() == 2  # the calls the dead actor lost were resubmitted
    # same points (same keys: the debug hook is not part of the economy), same answers
    pd.testing.assert_frame_equal(_moments(df), _moments(clean.results), rtol=1e-9)


def test_failed_points_are_rows_and_retried_on_request(ray_session, tmp_path) -> None:
    spec = SweepSpec.from_dict(armington_spec(numerics={"max_iter": 1, "tol": 1e-14},
                                              grid={"sigma": [2.0, 3.0]}))
    first = run_sweep(spec, tmp_path)
    df = first.results
    assert len(df) == 2 and set(df["status"]) == {"failed"}
    assert df["error"].str.contains("SolverConvergenceError").all()
    assert not first.tables  # nothing to tabulate
    assert run_sweep(spec, tmp_path).n_evaluated == 0
    retried = run_sweep(spec, tmp_path, retry_failed=True)
    assert retried.n_evaluated == 2 and len(load_results(tmp_path)) == 2


def test_kept_pool_answers_queries_on_held_steady_states(ray_session, tmp_path) -> None:
    spec = SweepSpec.from_dict(armington_spec(grid={"sigma": [2.0, 3.0]},
                                              resources={"num_actors": 1}))
    result = run_sweep(spec, tmp_path, keep_pool=True, track=False)
    pool = result.pool
    try:
        held = pool.held()
        assert len(held) == 1 and held[0]["key"] in set(result.results["key"])
        shocked = pool.region_shock(0, -0.05)[0]
        point = next(p for p in spec.points if p.key == held[0]["key"])
        model = get_model("armington")
        p = model.region_shock(point.params, 0, -0.05)
        np.testing.assert_allclose(shocked["moments"]["welfare"],
                                   model.solve(p).moments()["welfare"], rtol=1e-9)
        assert pool.moments(0) == held[0]["moments"]
    finally:
        pool.shutdown()


def test_shock_axis_runs_from_the_unshocked_steady_state(ray_session, tmp_path) -> None:
    spec = SweepSpec.from_dict(armington_spec(grid={"sigma": [2.0, 3.0]},
                                              shocks={"locations": [0, 1], "sizes": [-0.01]}))
    result = run_sweep(spec, tmp_path, track=False, plots=False)
    df = result.results.set_index(["sigma", "shock"])
    assert len(df) == 6 and set(df["status"]) == {"ok"}
    assert (df.xs("loc 0 -0.01", level="shock")["m_welfare"]
            < df.xs("none", level="shock")["m_welfare"]).all()
