"""Axes as objects (sweeps.axes): a new kind of design is one class, and sampled designs
get the same chains (nearest-neighbour tours) as grids."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import get_model
from hetspace.core.errors import InvalidConfigError
from hetspace.sweeps import axes
from hetspace.sweeps.points import expand_points, order_chains
from hetspace.sweeps.spec import SweepSpec

from .conftest import ARMINGTON_BASELINE


class Steps(axes.Design):
    """A test-only kind: one axis walked from a start by a number of equal steps,
    ``{field: [start, step, count]}``."""

    key = "steps"

    @classmethod
    def parse(cls, body, fields, seed, report):
        (axis, (start, step, count)), = body.items()
        return cls({axis: tuple(start + k * step for k in range(count))})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def indices(self, i: int) -> dict[str, int]:
        return dict.fromkeys(self.columns, i)


def test_a_new_kind_of_design_is_one_class(monkeypatch) -> None:
    monkeypatch.setattr(axes, "DESIGNS", (axes.Grid, Steps))
    model = get_model("armington")
    params = model.Params(**ARMINGTON_BASELINE)
    problems: list = []
    designs = axes.parse_designs({"grid": {"kappa": [0.5, 1.0]}, "steps": {"sigma": [2, 1, 3]}},
                                 None, 0, lambda p, t: problems.append((p, t)))
    assert not problems and [d.key for d in designs] == ["grid", "steps"]
    points = expand_points(model, params, model.Numerics(), designs, (), True, 0,
                           lambda p, t: problems.append((p, t)))
    assert [(p.values["kappa"], p.values["sigma"]) for p in points] == [
        (0.5, 2), (0.5, 3), (0.5, 4), (1.0, 2), (1.0, 3), (1.0, 4)]
    assert [p.params.sigma for p in points] == [2, 3, 4] * 2
    assert points[4].coords == (1.0, 0.5)  # its place on each axis, in [0, 1]
    # a value the model refuses is named by the new section's path
    bad = axes.parse_designs({"steps": {"sigma": [2, -1, 3]}}, None, 0,
                             lambda p, t: problems.append((p, t)))
    expand_points(model, params, model.Numerics(), bad, (), True, 0,
                  lambda p, t: problems.append((p, t)))
    assert problems and problems[0][0] == ("steps", "sigma", 1)


def test_a_sampled_design_is_walked_by_a_nearest_neighbour_tour() -> None:
    spec = SweepSpec.from_dict({
        "name": "sampled", "model": "armington", "baseline": {"params": ARMINGTON_BASELINE},
        "sample": {"design": "lhs", "n": 40, "bounds": {"sigma": [1.5, 6.0],
                                                       "kappa": [0.5, 3.0]}}})
    assert [d.key for d in spec.designs] == ["sample"] and len(spec.points) == 40
    x = np.array([p.coords for p in spec.points])
    assert x.shape == (40, 2) and x.min() >= 0.0 and x.max() <= 1.0

    def length(points) -> float:
        c = np.array([p.coords for p in points])
        return float(np.sum(np.linalg.norm(np.diff(c, axis=0), axis=1)))

    chain, = order_chains(spec.points, 1)
    assert sorted(p.key for p in chain) == sorted(p.key for p in spec.points)
    # the tour steps to near neighbours: far shorter than the design's own (random) order
    assert length(chain) < 0.5 * length(spec.points)


def test_a_sample_cannot_be_combined_with_another_design() -> None:
    with pytest.raises(InvalidConfigError, match=r"sweep\.sample: cannot be combined with grid"):
        SweepSpec.from_dict({
            "name": "both", "model": "armington", "baseline": {"params": ARMINGTON_BASELINE},
            "grid": {"kappa": [0.5, 1.0]},
            "sample": {"design": "lhs", "n": 8, "bounds": {"sigma": [1.5, 6.0]}}})
