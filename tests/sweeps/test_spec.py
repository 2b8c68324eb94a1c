"""Sweep specs: loading, path-named validation errors, points, hashes, chains."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from hetspace.core import InvalidConfigError, get_model, register_model
from hetspace.core.protocol import REGISTRY
from hetspace.sweeps import SweepSpec, load_sweep_spec, order_chains
from hetspace.sweeps.actors import line_position
from hetspace.sweeps.points import point_key

from .conftest import ARMINGTON_BASELINE, REPO_ROOT, armington_spec

SWEEP_CONFIGS = sorted((REPO_ROOT / "configs" / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("path", SWEEP_CONFIGS, ids=lambda p: p.name)
def test_shipped_sweep_configs_load(path: Path) -> None:
    missing = not (REPO_ROOT / "configs/models/spatial48.yaml").exists()
    if "spatial48" in path.read_text() and missing:
        pytest.skip("configs/models/spatial48.yaml (the 48-location economy) is not there yet")
    spec = load_sweep_spec(path)
    assert spec.points and spec.name == path.stem


def test_grid_zip_and_shocks_expand_in_spec_order() -> None:
    spec = SweepSpec.from_dict(armington_spec(
        grid={"sigma": [1.5, 2.0]}, zip={"kappa": [1.0, 2.0, 3.0]},
        shocks={"locations": [0, 2], "sizes": [-0.01]}))
    assert len(spec.points) == 2 * 3 * 3  # grid x zip rows x (unshocked + 2 shocks)
    first = spec.points[:3]
    assert [p.values for p in first] == [{"sigma": 1.5, "kappa": 1.0}] * 3
    assert [p.labels()["shock"] for p in first] == ["none", "loc 0 -0.01", "loc 2 -0.01"]
    np.testing.assert_allclose(first[1].params.A, [2.0 * 0.99, 1.0, 1.0], rtol=1e-15)
    assert len({p.key for p in spec.points}) == len(spec.points)


def test_point_key_is_content_addressed() -> None:
    model = get_model("armington")
    a = model.Params(**ARMINGTON_BASELINE)
    b = model.Params(**{**ARMINGTON_BASELINE, "sigma": 2})
    n = model.Numerics()
    assert point_key("armington", a, n, 0) == point_key("armington", b, n, 0)
    assert point_key("armington", a, n, 0) != point_key("armington", a, n, 1)
    assert point_key("armington", a, n, 0) != point_key("armington", a, n.with_(tol=1e-10), 0)
    assert point_key("armington", a, n, 0) != point_key("armington", a, n, 0, version="9.9")


def test_bad_axis_value_is_named_by_its_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nmodel: incomplete_markets\nbaseline:\n  params:\n    gamma: 2.0\n"
        "    beta: 0.96\n    e_grid: [1.0, 0.5]\n    Pi: [[0.9, 0.1], [0.1, 0.9]]\n"
        "    a_low: 0.0\n    r: 0.01\ngrid:\n  gamma: [1.0, 2.0, -1]\n")
    with pytest.raises(InvalidConfigError) as err:
        load_sweep_spec(path)
    assert err.value.problems == ("line 12: sweep.grid.gamma[2]: must be > 0, got -1.0",)


def test_every_problem_is_listed() -> None:
    spec = armington_spec(grid={"sigma": [1.5, 0.5], "kapa": [1.0]}, zip={"kappa": [1, 2],
                          "numeraire": [0]}, resources={"num_actors": 0}, seed=-1)
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(spec)
    text = "\n".join(err.value.problems)
    assert "sweep.grid.kapa: is not a field of armington Params (did you mean 'kappa'?)" in text
    assert "sweep.zip: lists must have equal lengths" in text
    assert "sweep.resources.num_actors: must be an integer >= 1, got 0" in text
    assert "sweep.seed: must be an integer >= 0, got -1" in text


def test_interacting_values_name_the_point() -> None:
    # natural borrowing limit: with r = 0.1 and income 0.1, a_low must be > -1
    base = {"gamma": 2.0, "beta": 0.9, "e_grid": [1.0, 0.1], "Pi": [[0.9, 0.1], [0.1, 0.9]],
            "a_low": -0.5, "r": 0.01}
    spec = {"name": "x", "model": "incomplete_markets", "baseline": {"params": base},
            "grid": {"a_low": [-0.5, -5.0], "r": [0.01, 0.1]}}
    with pytest.raises(InvalidConfigError, match=r"sweep.grid.a_low\[1\]: must be above the "
                       r"natural borrowing limit .* \(at a_low=-5.0, r=0.1\)"):
        SweepSpec.from_dict(spec)


def test_unknown_keys_and_baseline_problems() -> None:
    spec = armington_spec(grids={}, baseline={"params": {**ARMINGTON_BASELINE, "sigma": 0.5}})
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(spec)
    assert "sweep.grids: unknown key (did you mean 'grid'?)" in err.value.problems[0]
    assert "sweep.baseline.params.sigma: must be > 1, got 0.5" in err.value.problems


def test_moment_names_are_checked_at_load(monkeypatch) -> None:
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(armington_spec(moments=["welfare", "shock_welfare_change", "gini"]))
    assert list(err.value.problems) == [
        f"sweep.moments[{i}]: {name!r} is not a moment of armington{why}; its moments: "
        "real_wage_mean, real_wage_min, real_wage_max, domestic_share_mean, trade_openness, "
        "welfare" for i, name, why in (
            (1, "shock_welfare_change", " (a region-shock effect: it needs a shocks section)"),
            (2, "gini", ""))]
    shocked = armington_spec(moments=["welfare", "shock_welfare_change"],
                             shocks={"locations": [0], "sizes": [-0.01]})
    assert SweepSpec.from_dict(shocked).moments == ("welfare", "shock_welfare_change")
    # a model that names no moments is checked once a point has solved (runner)
    monkeypatch.setattr(REGISTRY, "_paths", dict(REGISTRY._paths))
    monkeypatch.setattr(REGISTRY, "_loaded", dict(REGISTRY._loaded))
    register_model(dataclasses.replace(get_model("armington"), name="unnamed",
                                       moment_names=None))
    assert SweepSpec.from_dict({**armington_spec(moments=["gini"]), "model": "unnamed"}
                               ).moments == ("gini",)


def test_baseline_config_file_is_relative_to_the_spec(tmp_path: Path) -> None:
    spec_dir = tmp_path / "sweeps"
    spec_dir.mkdir()
    (spec_dir / "s.yaml").write_text(
        f"name: s\nmodel: armington\nbaseline:\n  config: "
        f"{REPO_ROOT / 'configs/models/armington_example.yaml'}\n"
        "numerics: {tol: 1.0e-10}\ngrid:\n  sigma: [2.0, 3.0]\n")
    spec = load_sweep_spec(spec_dir / "s.yaml")
    assert spec.numerics.tol == 1e-10 and len(spec.points) == 2
    (spec_dir / "t.yaml").write_text(
        "name: t\nmodel: incomplete_markets\nbaseline:\n  config: ../missing.yaml\n")
    with pytest.raises(InvalidConfigError, match=r"line 4: sweep.baseline.config: .*missing.yaml"
                       r": file not found"):
        load_sweep_spec(spec_dir / "t.yaml")


def test_region_shocks_need_the_model_hook(monkeypatch) -> None:
    # a model without the hook: armington's spec with region_shock removed, registered
    # for this test only (the registry is restored afterwards)
    monkeypatch.setattr(REGISTRY, "_paths", dict(REGISTRY._paths))
    monkeypatch.setattr(REGISTRY, "_loaded", dict(REGISTRY._loaded))
    register_model(dataclasses.replace(get_model("armington"), name="no_hook",
                                       region_shock=None))
    spec = armington_spec(shocks={"locations": [0], "sizes": [-0.01]})
    spec["model"] = "no_hook"
    with pytest.raises(InvalidConfigError, match=r"sweep\.shocks: region shocks are not "
                       r"supported by the model 'no_hook'"):
        SweepSpec.from_dict(spec)


def test_incomplete_markets_region_shock_scales_location_productivity() -> None:
    base = {"gamma": 2.0, "beta": 0.96, "e_grid": [1.0], "Pi": [[1.0]], "a_low": 0.0,
            "r": 0.01, "w": [1.0, 2.0], "P": [1.0, 1.0], "T": [0.0, 0.0],
            "chi": [[1.0, 0.5], [0.5, 1.0]]}
    spec = SweepSpec.from_dict({"name": "x", "model": "incomplete_markets",
                                "baseline": {"params": base},
                                "shocks": {"locations": [1], "sizes": [-0.01]}})
    shocked = [p for p in spec.points if p.shock is not None]
    assert len(shocked) == 1
    np.testing.assert_allclose(shocked[0].params.w, [1.0, 2.0 * 0.99], rtol=1e-15)


def test_bad_shock_location_names_its_index() -> None:
    spec = armington_spec(shocks={"locations": [0, 7], "sizes": [-0.01, "big"]})
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(spec)
    assert "sweep.shocks.sizes[1]: must be a number, got 'big'" in err.value.problems
    spec = armington_spec(shocks={"locations": [0, 7], "sizes": [-0.01]})
    with pytest.raises(InvalidConfigError, match=r"sweep.shocks.locations\[1\]: must be a "
                       r"region index in \[0, 2\], got 7"):
        SweepSpec.from_dict(spec)


def test_armington_region_shock_scales_productivity() -> None:
    model = get_model("armington")
    p = model.Params(**ARMINGTON_BASELINE)
    shocked = model.region_shock(p, 1, -0.01)
    np.testing.assert_allclose(shocked.A, [2.0, 0.99, 1.0], rtol=1e-15)
    np.testing.assert_array_equal(p.A, [2.0, 1.0, 1.0])  # params are immutable


def test_chains_cover_every_point_once_and_walk_to_neighbours() -> None:
    spec = SweepSpec.from_dict(armington_spec(grid={"sigma": [1.5, 2, 3, 4, 5, 6],
                                                    "kappa": [0.5, 1, 1.5, 2, 3]}))
    chains = order_chains(spec.points, 3)
    assert len(chains) == 3
    assert sorted(p.index for c in chains for p in c) == list(range(30))
    assert max(len(c) for c in chains) - min(len(c) for c in chains) <= 1
    for chain in chains:
        steps = [math.dist(a.coords, b.coords) for a, b in itertools.pairwise(chain)]
        # a 6 x 5 grid scaled to the unit square: neighbours are at most ~1/4 apart
        assert np.median(steps) <= 0.34


def test_chain_walks_an_evenly_spaced_grid_in_rows_back_and_forth() -> None:
    # an 8 x 8 grid of rounded values (spacings equal to 1e-4): a snake walks the rows
    # back and forth, so 8 x 6 points lie on the line through the two before them
    # (what actors extrapolate along); the nearest-neighbour tour with index-order
    # ties zigzagged across pairs of rows (19 such points)
    grid = {"sigma": [float(v) for v in np.round(np.linspace(1.5, 2.5, 8), 4)],
            "kappa": [float(v) for v in np.round(np.linspace(0.5, 2.0, 8), 4)]}
    spec = SweepSpec.from_dict(armington_spec(grid=grid))
    (chain,) = order_chains(spec.points, 1)
    assert sorted(p.index for p in chain) == list(range(64))
    steps = [np.subtract(b.coords, a.coords) for a, b in itertools.pairwise(chain)]
    assert all(np.count_nonzero(np.abs(s) > 1e-12) == 1 for s in steps)  # grid neighbours
    on_line = sum(line_position(a.params, b.params, c.params) == pytest.approx(1.0, rel=1e-3)
                  for a, b, c in zip(chain, chain[1:], chain[2:], strict=False))
    assert on_line == 8 * 6


def test_ranges_expand_to_evenly_spaced_axis_values() -> None:
    spec = SweepSpec.from_dict(armington_spec(grid={"sigma": {"geomspace": [1.5, 6.0, 3]},
                                                    "kappa": {"linspace": [0.5, 2.0, 4]}}))
    np.testing.assert_allclose(spec.grid["sigma"], [1.5, 3.0, 6.0])  # ratio 2
    np.testing.assert_allclose(spec.grid["kappa"], [0.5, 1.0, 1.5, 2.0])  # step 0.5
    assert len(spec.points) == 12


@pytest.mark.parametrize(("grid", "message"), [
    ({"sigma": {"geomspace": [-1.0, 6.0, 3]}}, "sweep.grid.sigma.geomspace: start and stop "
                                               "must be nonzero and of one sign"),
    ({"sigma": {"linspace": [2.0, 6.0, 1]}}, "sweep.grid.sigma.linspace: must be [start, "
                                             "stop, num] with start != stop and an integer"),
    ({"sigma": {"arange": [2.0, 6.0, 1.0]}}, "sweep.grid.sigma: a range must be one of"),
    ({"sigma": {"linspace": [0.5, 3.0, 6]}}, "sweep.grid.sigma[0]: must be > 1, got 0.5"),
])
def test_bad_ranges_are_config_errors(grid, message) -> None:
    with pytest.raises(InvalidConfigError) as err:
        SweepSpec.from_dict(armington_spec(grid=grid))
    assert message in str(err.value)


def _zipped(sigma: list, kappa: list) -> dict:
    spec = armington_spec(zip={"sigma": sigma, "kappa": kappa})
    del spec["grid"]
    return spec


def test_zip_rows_may_share_a_value_but_not_repeat() -> None:
    # scenarios that each change one field: the others' values repeat down their columns
    spec = SweepSpec.from_dict(_zipped([2.0, 2.0, 3.0], [0.5, 1.0, 1.0]))
    assert [(p.values["sigma"], p.values["kappa"]) for p in spec.points] == [
        (2.0, 0.5), (2.0, 1.0), (3.0, 1.0)]
    with pytest.raises(InvalidConfigError, match=r"sweep\.zip: row 2 \(sigma=2, kappa=1\.0\) "
                                                 r"repeats row 1: it would be the same point"):
        SweepSpec.from_dict(_zipped([2.0, 2, 2], [0.5, 1.0, 1.0]))
