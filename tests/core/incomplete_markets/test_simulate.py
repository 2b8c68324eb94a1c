"""simulate_panel: determinism, consistency with the policies, long-run moments.

Small grids (60 asset points) keep the solves and the simulation fast.
"""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.incomplete_markets import Numerics, Params, simulate_panel, solve


@pytest.fixture(scope="module")
def two_locations():
    params = Params(gamma=2.0, beta=0.94, e_grid=(0.6, 1.4), Pi=((0.8, 0.2), (0.2, 0.8)),
                    a_low=0.0, w=(1.0, 1.15), P=(1.0, 1.05), T=(0.0, 0.0),
                    chi=((1.0, 0.3), (0.2, 1.0)), theta=2.0, closure="partial", r=0.03)
    return solve(params, Numerics(n_a=60, a_max=20.0))


def test_same_seed_same_panel_other_seed_other_panel(two_locations):
    a = simulate_panel(two_locations, 50, 20, seed=7)
    b = simulate_panel(two_locations, 50, 20, seed=7)
    c = simulate_panel(two_locations, 50, 20, seed=8)
    for name in ("location", "income_state", "asset_node", "assets", "consumption"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.asset_node, c.asset_node)
    assert a.assets.shape == (20, 50)


def test_panel_follows_policies(two_locations):
    sol = two_locations
    p = simulate_panel(sol, 200, 30, seed=1)
    np.testing.assert_array_equal(p.consumption, sol.c[p.location, p.income_state, p.asset_node])
    np.testing.assert_array_equal(p.assets, sol.a_grid[p.asset_node])
    # savings land on one of the two nodes bracketing a_next (Young's lottery)
    saved = sol.a_next[p.location, p.income_state, p.asset_node][:-1]
    lo = np.searchsorted(sol.a_grid, saved, side="right") - 1
    nxt = p.asset_node[1:]
    assert np.all((nxt == np.clip(lo, 0, sol.a_grid.size - 2))
                  | (nxt == np.clip(lo, 0, sol.a_grid.size - 2) + 1))
    # income moves only along positive entries of Pi
    Pi = np.asarray(sol.params.Pi)
    assert np.all(Pi[p.income_state[:-1], p.income_state[1:]] > 0.0)


def test_long_run_cross_section_matches_stationary_distribution(two_locations):
    # Households start from dist, and the panel is the chain whose stationary law is dist,
    # so every period's cross-section is distributed as dist. Averaging over H households
    # and T periods, the standard error of a mean of x is at most sd(x)/sqrt(H) (periods
    # are positively correlated, so the pooled mean is no better than one cross-section in
    # the worst case); we allow 4 such standard errors (a false failure has p < 1e-4).
    sol = two_locations
    H, T = 20_000, 10
    p = simulate_panel(sol, H, T, seed=123)
    d = sol.dist
    for name, x in (("assets", np.broadcast_to(sol.a_grid, d.shape)),
                    ("consumption", sol.c),
                    ("location", np.broadcast_to(np.arange(2)[:, None, None], d.shape)),
                    ("income_state", np.broadcast_to(np.arange(2)[None, :, None], d.shape))):
        mean = float(np.sum(d * x))
        sd = float(np.sqrt(np.sum(d * (x - mean) ** 2)))
        sim = getattr(p, name).astype(float)
        assert abs(sim.mean() - mean) < 4.0 * sd / np.sqrt(H), name
    # and it does move: some households migrate
    assert np.any(p.location[1:] != p.location[:-1])


def test_bad_arguments_raise(two_locations):
    with pytest.raises(InvalidParamsError, match="n_households"):
        simulate_panel(two_locations, 0, 10, seed=1)
    with pytest.raises(InvalidParamsError, match="seed"):
        simulate_panel(two_locations, 10, 10, seed=-1)
