"""Warm starts of the second best (a sweep point started from a neighbour's solution):
the same answer as a cold solve, whichever neighbour it started from (DESIGN 2)."""

from __future__ import annotations

import numpy as np
import pytest

from hetspace.core import get_model
from hetspace.core.planner import Numerics, Params
from hetspace.core.planner.outer import InexactInner

BETA, OMEGA = 0.988, 0.987  # DFM Table 1
A = [[1.0, 0.3, 0.2], [0.3, 1.1, 0.3], [0.2, 0.3, 0.95]]
CHI = [[1, 0.02, 0.01], [0.03, 1, 0.02], [0.01, 0.02, 1]]
NUM = Numerics(n_v=80)


def economy(theta=0.5, alpha_agg=0.04):
    return Params(beta=BETA, omega=OMEGA, theta=theta, chi=CHI, A=A, alpha_agg=alpha_agg)


@pytest.fixture(scope="module")
def cold():
    model = get_model("planner")
    return {key: model.solve(economy(**kw), NUM) for key, kw in {
        "target": dict(theta=0.52), "theta_below": dict(theta=0.5),
        "alpha_above": dict(theta=0.52, alpha_agg=0.042)}.items()}


def test_warm_equals_cold_from_either_neighbour(cold):
    """A warm solve at theta = 0.52 from the solution at theta = 0.5 and from the one
    at alpha_agg = 0.042 matches the cold solve at theta = 0.52: the warm start builds
    the cold solve's v-grid (this economy's first best) and both accept only a point
    whose residual, evaluated with the full inner tolerance, is below tol_outer =
    1e-8. Multipliers and populations then agree to ~cond x 1e-8; S to the inner
    tolerance times the sweep's 1 / (1 - beta omega) ~ 40 amplification plus the
    multipliers' effect (S is O(10-100))."""
    target = cold["target"]
    model = get_model("planner")
    for name in ("theta_below", "alpha_above"):
        warm = model.solve(economy(theta=0.52), NUM, warm_start=cold[name])
        assert warm.converged
        # the grid: this economy's first best, itself solved to tol_outer (|F| <= 1e-8,
        # from a different start than the cold solve's): promises agree to ~1e-8 utils
        # (absolute: a node may sit near v = 0, measured 6.7e-9 at 0.053)
        np.testing.assert_allclose(warm.component.v_grid, target.component.v_grid,
                                   rtol=0, atol=1e-7, err_msg=name)
        for field in ("w", "P", "population"):
            np.testing.assert_allclose(getattr(warm, field), getattr(target, field),
                                       rtol=1e-6, err_msg=f"{name}: {field}")
        np.testing.assert_allclose(warm.S, target.S, rtol=1e-6, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(warm.welfare, target.welfare, rtol=1e-7, err_msg=name)
        assert max(warm.residuals.values()) <= NUM.tol_outer
        assert warm.work["sweeps"] >= warm.work["inner_solves"] >= warm.work["outer_iterations"]


def test_warm_start_from_another_allocation_is_cold_answer(cold):
    """A first-best neighbour (as in a sweep over the allocation axis) carries no
    component problem and no second-best Jacobian: the warm solve starts from its
    multipliers only and still finds the cold answer."""
    model = get_model("planner")
    fb = model.solve(economy(theta=0.52).with_(allocation="first_best"), NUM)
    warm = model.solve(economy(theta=0.52), NUM, warm_start=fb)
    np.testing.assert_allclose(warm.population, cold["target"].population, rtol=1e-6)
    np.testing.assert_allclose(warm.welfare, cold["target"].welfare, rtol=1e-7)


def test_inexact_inner_tolerance_follows_residual_and_ends_exact():
    inexact = InexactInner(1e-10, eta=1e-3, loosest=1e-6)
    assert inexact.take(same_point=False) == 1e-6  # first evaluation: the loosest
    inexact.observe(1e-4)
    assert inexact.take(same_point=True) is None  # the same point is not redone
    assert inexact.take(same_point=False) == pytest.approx(1e-7)
    assert not inexact.exact()
    inexact.tighten()  # |F| small enough: the point is evaluated again exactly
    assert inexact.take(same_point=True) == 1e-10
    assert inexact.exact()
    inexact.observe(1e-12)  # never below the full tolerance
    assert inexact.take(same_point=False) == 1e-10


def test_a_solution_pickles_and_warm_starts_after_the_round_trip(cold):
    """A held solution travels by pickle (an actor's query returns it; a sweep saves a
    warm start): every field survives, the read-only mappings stay read-only, and the
    unpickled copy warm-starts to the cold answer as the original does."""
    import pickle
    from types import MappingProxyType

    sol = cold["theta_below"]
    back = pickle.loads(pickle.dumps(sol))
    assert isinstance(back.residuals, MappingProxyType)
    assert isinstance(back.work, MappingProxyType)
    assert dict(back.residuals) == dict(sol.residuals) and dict(back.work) == dict(sol.work)
    for name in ("w", "P", "population", "S", "dist", "C", "outer_jacobian", "x_first_best"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sol, name), err_msg=name)
    np.testing.assert_array_equal(back.component.X, sol.component.X)
    warm = get_model("planner").solve(economy(theta=0.52), NUM, warm_start=back)
    np.testing.assert_allclose(warm.population, cold["target"].population, rtol=1e-6)
    np.testing.assert_allclose(warm.welfare, cold["target"].welfare, rtol=1e-7)
