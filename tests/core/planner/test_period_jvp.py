"""The planner block's period linearised in closed form (``period_jvp``, the sweep's
Jacobian of ``linearize`` with its input columns) against central differences of whole
periods (``PlannerBlock(linearisation="differences")``, the reference: two sweeps and
two distribution steps per direction), piece by piece and through the fake-news
Jacobian, on the 3-location economy of test_planner.

Measured gaps (max over a piece, relative to its largest entry): the state 1.3e-8, the
next period's mass 9.3e-9, the outputs 4.8e-9, the contingent date-0 mass 2.4e-10, the
fake-news Jacobian 2.6e-8 (6.6e-8 with the date-0 term): differences' own error (their
step is 1e-6; at 1e-5 and 1e-7 the gaps move, the closed form does not). The newborn
rows of the sweep's Jacobian in their old envelope form (1/R) sum mu sigma were off by
1.1e-6 of the state's scale (the interpolation error between nodes; measured on the
former default range, 150 utils below and 60 above the first-best promises): the
tolerance 2e-7 catches that.
"""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.planner import Numerics, solve
from hetspace.core.planner.transition import PlannerBlock
from hetspace.core.transitions import fake_news_jacobian

from .test_planner import asymmetric

TOL = 2e-7


@pytest.fixture(scope="module")
def blocks():
    sol = solve(asymmetric(), Numerics(n_v=40))
    return PlannerBlock(sol), PlannerBlock(sol, linearisation="differences")


def _gap(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_each_piece_equals_differences_of_whole_periods(blocks) -> None:
    analytic, differences = blocks
    rng = np.random.default_rng(7)
    N, J = analytic.N, analytic.J
    ds = 1e-2 * rng.standard_normal((2 * N, 3))
    dx = rng.standard_normal((2 * J, 3))
    for name, args in {"continuation": (ds, None), "multipliers": (None, dx),
                       "both": (ds, dx)}.items():
        sa, pa = analytic.backward_jvp(*args, None)
        sd, pd = differences.backward_jvp(*args, None)
        assert _gap(sa, sd) < TOL, (name, "state")
        assert _gap(analytic.forward_jvp(pa), differences.forward_jvp(pd)) < TOL, (name, "mass")
        assert _gap(analytic.aggregate_jvp(pa), differences.aggregate_jvp(pd)) < TOL, (
            name, "outputs")
    assert _gap(analytic.initial_jvp(ds), differences.initial_jvp(ds)) < TOL


def test_unit_multipliers_move_their_own_origin_only(blocks) -> None:
    """w_j enters S at origin j's nodes one for one with (1 + alpha); P_j moves origin j's
    nodes only (at a fixed continuation the others' problems do not see it)."""
    analytic, _ = blocks
    J, n, N = analytic.J, analytic.n, analytic.N
    d_state, _ = analytic.backward_jvp(None, np.eye(2 * J), None)
    origin = (np.arange(2 * N) % N) // n
    for j in range(J):
        for col in (j, J + j):
            assert np.all(d_state[origin != j, col] == 0.0)
        np.testing.assert_allclose(d_state[:N][origin[:N] == j, j],
                                   1.0 + analytic.params.alpha_agg, rtol=1e-14)
        assert np.all(d_state[N:, j] == 0.0)


@pytest.mark.parametrize("initial", [False, True])
def test_fake_news_jacobian_equals_the_differences_one(blocks, initial) -> None:
    analytic, differences = blocks
    T = 8
    a = fake_news_jacobian(analytic, T, initial=initial)
    d = fake_news_jacobian(differences, T, initial=initial)
    assert _gap(a.J, d.J) < TOL


def test_an_unknown_linearisation_is_refused(blocks) -> None:
    with pytest.raises(InvalidParamsError, match="linearisation"):
        PlannerBlock(blocks[0].sol, linearisation="secant")
