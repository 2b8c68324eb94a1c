"""Spatial closure (DFM section 4, B.22-B.24), its moments and region shocks.

Small grids (60 asset points, one income state, J <= 3): the checks are
invariants and cross-method comparisons whose tolerances follow from
Numerics.tol_spatial (1e-6 relative goods/population residuals) and tol_r.
"""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.incomplete_markets import Guess, Numerics, Params, solve
from hetspace.core.incomplete_markets.shocks import region_shock
from hetspace.core.incomplete_markets.spatial import (
    price_index,
)

NUM = Numerics(n_a=60, a_max=30.0)
CHI = np.array([[1.0, 0.03, 0.02], [0.04, 1.0, 0.03], [0.02, 0.05, 1.0]])
A3 = np.array([[1.0, 0.6, 0.5], [0.6, 1.05, 0.6], [0.5, 0.6, 0.95]])


def _spatial(**changes) -> Params:
    base = dict(gamma=1.0, beta=0.988, omega=0.987, e_grid=(1.0,), Pi=((1.0,),), a_low=-0.6,
                chi=CHI, theta=0.5, closure="spatial", A=A3, alpha_agg=0.04,
                sigma_trade=5.0, kappa_transfer=(0.1, -0.05, 0.0))
    base.update(changes)
    return Params(**base)


@pytest.fixture(scope="module")
def three():
    return solve(_spatial(), NUM)


def _one_location(**changes):
    base = dict(gamma=1.5, beta=0.95, omega=0.99, e_grid=(0.5, 1.5),
                Pi=((0.8, 0.2), (0.2, 0.8)), a_low=-0.5)
    base.update(changes)
    return base


@pytest.mark.parametrize("a11", [1.0, 2.0])
def test_one_location_reduces_to_bond_closure(a11):
    # J = 1: L = 1, w = 1 (numeraire), T = 0 (budget), P = 1 / A_11 (B.22), so the spatial
    # equilibrium is the bond economy with P = 1/A_11; both clear bonds to tol_r = 1e-11
    spatial = solve(Params(**_one_location(closure="spatial", A=((a11,),), alpha_agg=0.04,
                                           kappa_transfer=(0.3,))), NUM)
    bond = solve(Params(**_one_location(closure="bond", P=(1.0 / a11,))), NUM)
    np.testing.assert_allclose(spatial.r, bond.r, atol=1e-10)
    np.testing.assert_allclose(spatial.P, [1.0 / a11], rtol=1e-15)
    np.testing.assert_allclose(spatial.T, [0.0], atol=1e-15)
    np.testing.assert_allclose(spatial.c, bond.c, rtol=1e-7)
    np.testing.assert_allclose(spatial.dist, bond.dist, atol=1e-8)
    assert spatial.residuals["outer_iterations"] == 1.0


def test_markets_clear(three):
    p, tol = three.params, NUM.tol_spatial
    w, P_eq, T = three.w, three.P, three.T
    L, H, E = three.location_aggregates()
    P, lam = price_index(p.A, w, L, p.sigma_trade, p.alpha_agg)
    np.testing.assert_allclose(w[0], 1.0, rtol=0, atol=0)  # numeraire
    np.testing.assert_allclose(lam @ E, w * H, rtol=2 * tol)  # B.23
    np.testing.assert_allclose(P, P_eq, rtol=2 * tol)  # B.22 at the realised population
    np.testing.assert_allclose(L.sum(), 1.0, rtol=1e-12)
    assert abs(L @ T) < 2 * tol  # government budget (47), per capita
    np.testing.assert_allclose(T, p.kappa_transfer * w + (T - p.kappa_transfer * w)[0])
    assert abs(three.aggregate_assets) < 1e-8  # bonds in zero net supply
    assert three.residuals["goods_market"] <= tol and three.residuals["population"] <= tol
    # stopping rule of the Newton solver: the r part of the Newton step (spatial_outer)
    assert three.residuals["bond_step_r"] <= three.residuals["bond_tol_r"]
    # population is stationary under the migration matrix
    np.testing.assert_allclose(L @ three.migration_matrix(), L, rtol=1e-9)
    np.testing.assert_allclose(three.migration_matrix().sum(axis=1), 1.0, rtol=1e-12)


def test_warm_start_matches_cold(three):
    new = _spatial(alpha_agg=0.0404)
    warm = solve(new, NUM, warm_start=three)
    cold = solve(new, NUM)
    # both within tol_spatial = 1e-6 of the equilibrium; the map's Jacobian is O(1)-O(10)
    np.testing.assert_allclose(warm.w, cold.w, rtol=1e-5)
    np.testing.assert_allclose(warm.population, cold.population, rtol=1e-5)
    np.testing.assert_allclose(warm.r, cold.r, atol=1e-7)
    assert warm.n_iter < cold.n_iter


def test_solution_keeps_the_params_it_was_given(three):
    # equilibrium prices live in the solution's own fields; its params are the input
    assert three.params == _spatial()
    assert three.params.w is None and three.w[0] == 1.0 and three.w.shape == (3,)
    d = three.diagnostics()
    assert d["distribution_mass"] == pytest.approx(1.0, abs=1e-13)
    assert d["residual_goods_market"] == three.residuals["goods_market"]
    assert not set(d) & set(three.moments())  # diagnostics are not among the moments


def test_spatial_outputs_and_moments(three):
    p = three.params
    np.testing.assert_allclose(three.real_wage(), three.w / three.P)
    cpc = three.consumption_per_capita()
    np.testing.assert_allclose(cpc * three.population, np.sum(three.dist * three.c, axis=(1, 2)))
    np.testing.assert_allclose(three.population_shares().sum(), 1.0)
    m = three.moments()
    # log utility: C_eq = exp((1 - beta omega) E[v])
    np.testing.assert_allclose(m["welfare_ce"],
                               np.exp((1 - p.beta * p.omega) * np.sum(three.dist * three.v)))
    for key in ("consumption_pc_log_sd", "real_wage_log_sd"):
        assert m[key] > 0.0


def test_region_shock_moves_people_out(three):
    shock = region_shock(three, 0, -0.01)
    assert shock.population_change[0] < 0.0
    np.testing.assert_allclose(shock.population_change.sum(), 0.0, atol=1e-12)
    assert shock.welfare_change_total < 0.0
    assert shock.after.residuals["goods_market"] <= NUM.tol_spatial
    rows = shock.table(names=("a", "b", "c"))
    assert [r["location"] for r in rows] == ["a", "b", "c"]
    with pytest.raises(InvalidParamsError, match=r"location: must be an index in \[0, 3\)"):
        region_shock(three, 3, -0.01)
    with pytest.raises(InvalidParamsError, match="size: must be a finite number > -1"):
        region_shock(three, 0, -1.5)


@pytest.mark.parametrize(("changes", "message"), [
    ({"sigma_trade": 1.0}, "sigma_trade: must be > 1"),
    ({"A": np.ones((2, 2))}, r"chi: must have shape \(2, 2\)"),  # A sets J
    ({"A": np.ones((3, 2))}, r"A: must be square"),
    ({"w": np.ones(3)}, r"w: is an equilibrium output of closure='spatial'.*Guess\(w="),
    ({"P": np.ones(3)}, r"P: is an equilibrium output"),
    ({"r": 0.01}, r"r: is found by closure='spatial'.*Guess\(r="),
    ({"A": -np.ones((3, 3))}, r"A\[0, 0\]: must be > 0"),
    ({"kappa_transfer": (0.1, 0.2)}, r"kappa_transfer: must have shape \(3,\)"),
    ({"alpha_agg": 1.0}, "alpha_agg: must be < 1"),
    ({"a_low": 0.0}, "a_low: must be < 0 with closure='spatial'"),
    ({"A": None}, "A: is required"),
])
def test_spatial_params_validation(changes, message):
    with pytest.raises(InvalidParamsError, match=message):
        _spatial(**changes)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("max_iter_spatial", 0, "max_iter_spatial: must be >= 1"),
    ("tol_spatial", 0.0, "tol_spatial: must be > 0"),
])
def test_spatial_numerics_validation(field, value, message):
    with pytest.raises(InvalidParamsError, match=message):
        Numerics(**{field: value})


@pytest.mark.parametrize("field", ["damping_spatial", "memory_spatial"])
def test_retired_numerics_fields_say_what_replaced_them(field):
    with pytest.raises(InvalidParamsError, match=rf"{field}: no longer used: .*Newton"):
        Numerics.from_dict({field: 0.5})


def test_guess_starts_the_search_and_lands_on_the_cold_equilibrium(three):
    # a Guess at the equilibrium (in other units: rescaled inside) starts Newton there
    guess = Guess(r=three.r, w=2.0 * three.w, population=3.0 * three.population)
    sol = solve(_spatial(), NUM, warm_start=guess)
    np.testing.assert_allclose(sol.w, three.w, rtol=1e-5)
    np.testing.assert_allclose(sol.population, three.population, rtol=1e-5)
    np.testing.assert_allclose(sol.r, three.r, atol=1e-7)
    assert sol.residuals["outer_iterations"] < three.residuals["outer_iterations"]
    assert sol.params == three.params  # the start is not part of the economy
    # a Guess far off still ends at the equilibrium (the cold start takes over if needed)
    far = solve(_spatial(), NUM, warm_start=Guess(w=np.array([1.0, 5.0, 0.2]),
                                                  population=np.array([0.8, 0.1, 0.1])))
    np.testing.assert_allclose(far.w, three.w, rtol=1e-5)


@pytest.mark.parametrize(("kw", "message"), [
    ({"w": np.ones(3)}, "population: goes with w"),
    ({"w": np.ones(3), "population": np.ones(2)}, r"population: must have shape \(3,\)"),
    ({"r": -1.5}, "r: must be > -1"),
    ({"w": -np.ones(2), "population": np.ones(2)}, r"w\[0\]: must be > 0"),
])
def test_guess_validation(kw, message):
    with pytest.raises(InvalidParamsError, match=message):
        Guess(**kw)


def test_guess_of_the_wrong_size_is_refused(three):
    with pytest.raises(InvalidParamsError, match=r"warm_start.w: must have shape \(3,\)"):
        solve(_spatial(), NUM, warm_start=Guess(w=np.ones(2), population=np.ones(2)))
