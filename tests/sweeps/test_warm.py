"""``python -m hetspace.sweeps.warm``: which points it evaluates to compile a sweep's
kernels before the sweep (``make install`` runs it on the quickstart spec)."""

from __future__ import annotations

import yaml

from hetspace.sweeps import SweepSpec
from hetspace.sweeps.points import order_chains
from hetspace.sweeps.warm import main, warm, warm_points

from .test_dynamics import THREE


def _spec(**changes) -> SweepSpec:
    spec = {"name": "warm3", "model": "incomplete_markets",
            "baseline": {"params": THREE, "numerics": {"n_a": 30, "a_max": 30.0}},
            "grid": {"theta": [0.3, 0.4, 0.5, 0.6], "gamma": [1.0, 2.0]},
            "shocks": {"locations": [1], "sizes": [-0.01], "include_unshocked": True}}
    spec.update(changes)
    return SweepSpec.from_dict(spec, source="warm3")


def test_the_points_are_the_start_of_the_tour_and_include_a_shock() -> None:
    spec = _spec()
    (tour,) = order_chains(spec.points, 1)
    picked = warm_points(spec, 3)
    assert [p.key for p in picked[:3]] == [p.key for p in tour[:3]]
    assert any(p.shock is not None for p in picked)
    assert len({p.key for p in picked}) == len(picked) <= 4
    unshocked = _spec(shocks={"locations": [1], "sizes": [-0.01], "include_unshocked": True},
                      grid={"theta": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]})
    assert any(p.shock is not None for p in warm_points(unshocked, 1))
    none = _spec()
    none = SweepSpec.from_dict({k: v for k, v in none.raw.items() if k != "shocks"},
                               source="warm3")
    assert [p.key for p in warm_points(none, 2)] == [p.key for p in
                                                     order_chains(none.points, 1)[0][:2]]


def test_warming_solves_the_points_as_a_sweep_would(tmp_path, capsys) -> None:
    spec = _spec(grid={"theta": [0.4, 0.5]})
    rows = warm(spec, 2)
    assert [r.key for r in rows] == [p.key for p in warm_points(spec, 2)]
    assert [r.status for r in rows] == ["ok"] * len(rows)
    assert rows[0].warm_start is False and all(r.warm_start for r in rows[1:])
    path = tmp_path / "warm3.yaml"
    path.write_text(yaml.safe_dump(_spec(grid={"theta": [0.4]}).raw))
    assert main([str(path)]) == 0
    assert "numba cache warmed from" in capsys.readouterr().out
