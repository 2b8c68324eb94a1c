"""Sampled designs and global sensitivity (sweeps.sensitivity, SALib): the indices of
analytic functions against their closed forms, the spec's sample section, and a sampled
sweep of the workhorse analysed by `hetspace sensitivity`."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.core.errors import InvalidConfigError
from hetspace.sweeps import SweepSpec, load_results, run_sweep
from hetspace.sweeps.sensitivity import Sample, SensitivityError, indices

from .conftest import REPO_ROOT

PI = math.pi
A, B = 7.0, 0.1  # the Ishigami function's usual constants


def _ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


def _ishigami_indices() -> tuple[np.ndarray, np.ndarray]:
    """Closed form (Ishigami and Homma 1990; Saltelli et al. 2008, section 4.9) with x_i
    uniform on [-pi, pi]: partial variances V1 = (1 + B pi^4 / 5)^2 / 2, V2 = A^2 / 8,
    V3 = 0 and V13 = B^2 pi^8 (1/18 - 1/50); V = V1 + V2 + V13."""
    v1, v2 = (1 + B * PI ** 4 / 5) ** 2 / 2, A ** 2 / 8
    v13 = B ** 2 * PI ** 8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_sobol_indices_of_the_ishigami_function_match_the_closed_form() -> None:
    first, total = _ishigami_indices()
    np.testing.assert_allclose(first, [0.3139, 0.4424, 0.0], atol=1e-4)  # the usual values
    sample = Sample("sobol", 1024, {f"x{i}": (-PI, PI) for i in range(3)}, seed=3)
    rows = sample.rows()
    assert rows.shape == (1024 * 5, 3)  # Saltelli's scheme: N (D + 2) rows
    got = indices(sample, rows, _ishigami(rows), seed=3)
    # each estimate within its 95% bootstrap interval of the closed form (fixed seeds)
    assert np.all(np.abs(got["S1"] - first) <= got["S1_conf"]), got
    assert np.all(np.abs(got["ST"] - total) <= got["ST_conf"]), got


def test_morris_effects_of_a_linear_function_are_its_slopes_times_the_ranges() -> None:
    # y = 3 x0 - 2 x1 + 0 x2: every elementary effect of x_i is c_i (high - low) (SALib
    # measures steps in units of each range), so mu* = |c_i| (high - low), sigma = 0
    bounds = {"x0": (0.0, 2.0), "x1": (-1.0, 4.0), "x2": (5.0, 6.0)}
    sample = Sample("morris", 20, bounds, seed=1)
    rows = sample.rows()
    got = indices(sample, rows, rows @ np.array([3.0, -2.0, 0.0]))
    np.testing.assert_allclose(got["mu_star"], [6.0, 10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(got["mu"], [6.0, -10.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(got["sigma"], 0.0, atol=1e-9)


def test_lhs_designs_fill_their_bounds_and_have_no_indices() -> None:
    sample = Sample("lhs", 50, {"a": (1.0, 2.0), "b": (-3.0, 0.0)}, seed=0)
    rows = sample.rows()
    assert rows.shape == (50, 2)
    # one point in each of the 50 strata of each axis (Latin hypercube)
    for j, (lo, hi) in enumerate(sample.bounds.values()):
        strata = np.floor((rows[:, j] - lo) / (hi - lo) * 50).astype(int)
        assert sorted(strata) == list(range(50))
    with pytest.raises(SensitivityError, match="lhs design has no sensitivity indices"):
        indices(sample, rows, rows[:, 0])


HUGGETT = yaml.safe_load((REPO_ROOT / "configs/sweeps/huggett.yaml").read_text())


def _sampled(**changes) -> dict:
    spec = {"name": "sampled", "model": "incomplete_markets",
            "baseline": {"params": HUGGETT["baseline"]["params"],
                         "numerics": {**HUGGETT["baseline"]["numerics"], "n_a": 80}},
            "sample": {"design": "sobol", "n": 8,
                       "bounds": {"gamma": [1.0, 3.0], "a_low": [-4.0, -2.0],
                                  "beta": [0.990, 0.995]}},
            "moments": ["r", "mpc_mean"], "resources": {"num_actors": 2}}
    spec.update(changes)
    return spec


@pytest.mark.parametrize(("changes", "message"), [
    ({"grid": {"gamma": [1.0, 2.0]}}, "sweep.sample: cannot be combined with grid"),
    ({"sample": {"n": 6, "bounds": {"gamma": [1, 2]}}}, "must be a power of 2"),
    ({"sample": {"n": 8, "bounds": {"gama": [1, 2]}}}, "sweep.sample.bounds.gama: is not a "
                                                      "Params field"),
    ({"sample": {"n": 8, "bounds": {"gamma": [2, 1]}}}, "must be [low, high] with low < high"),
    ({"sample": {"n": 8, "design": "halton", "bounds": {"gamma": [1, 2]}}},
     "sweep.sample.design: must be one of sobol, morris, lhs"),
    ({"sample": {"n": 8, "bounds": {"gamma": [1, 2]}, "size": 3}}, "sweep.sample.size: "
                                                                  "unknown key"),
])
def test_bad_sample_sections_are_config_errors(changes, message) -> None:
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(_sampled(**changes), source="s")
    assert message in str(err.value)


def test_a_sampled_sweep_of_the_workhorse_and_its_sensitivity(ray_session, tmp_path) -> None:
    spec = SweepSpec.from_dict(_sampled(), source="sampled")
    assert len(spec.points) == 8 * (3 + 2)
    out = tmp_path / "out"
    result = run_sweep(spec, out, plots=False)
    assert result.n_failed == 0
    meta = json.loads((out / "sweep.json").read_text())["sample"]
    rows = np.array(meta["rows"])
    assert rows.shape == (40, 3)
    lo, hi = np.array(list(spec.sample.bounds.values())).T
    assert np.all((rows >= lo) & (rows <= hi))
    cli = CliRunner().invoke(app, ["sensitivity", str(out)], env={"COLUMNS": "200"})
    assert cli.exit_code == 0, cli.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert list(table.columns) == ["moment", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert sorted(zip(table["moment"], table["parameter"], strict=True)) == sorted(
        (m, p) for m in ("r", "mpc_mean") for p in ("gamma", "a_low", "beta"))
    assert (out / "sensitivity_r.png").exists() and "**r**" in cli.stdout
    # the outputs analysed are the stored moments of the design's rows, in its order
    stored = load_results(out).set_index(["gamma", "a_low", "beta"])
    y = [stored.loc[tuple(row), "m_r"] for row in rows]
    expected = indices(spec.sample, rows, np.array(y), seed=spec.sample.seed)
    np.testing.assert_allclose(table[table["moment"] == "r"]["ST"], expected["ST"])


def test_sensitivity_of_a_sweep_without_a_design_is_an_error(tmp_path) -> None:
    (tmp_path / "sweep.json").write_text(json.dumps({"axes": ["gamma"], "moments": ["r"]}))
    cli = CliRunner().invoke(app, ["sensitivity", str(tmp_path)])
    assert cli.exit_code == 1
    assert "holds no sampled sweep" in cli.stderr
