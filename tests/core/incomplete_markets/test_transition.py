"""The workhorse's household block in transition (``incomplete_markets.transition``):
nonlinear paths at given price paths, and its fake-news Jacobians against two
independent methods: two-sided differences of nonlinear paths, and, for one
location, sequence-jacobian's household Jacobians on the same grid and chain.

Tolerances. The nonlinear path is piecewise smooth in prices (kinks where a
policy crosses a grid node or the borrowing limit starts to bind), so central
differences err by O(h^2) between kinks and O(h) across one; with steps 1e-3 and
1e-4 in the 3-location economy below, the error relative to a column's largest
entry was at most 2e-5 and 2e-8 (1e-10 at 1e-5, the rounding floor), so the
test asks for 1e-4 at h = 1e-3 and a fall by 20 (or to the 1e-9 floor) at 1e-4.
Dropping the coupling of values into consumption in Phi_z (the migration
channel of the backward step) moves the columns at s = 7 by 0.7-8% of their
largest entry, far above these tolerances.
"""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.incomplete_markets import Numerics, Params, examples, solve
from hetspace.core.incomplete_markets.transition import HouseholdBlock, transition_path
from hetspace.core.transitions import fake_news_jacobian

CHI = np.array([[1.0, 0.3, 0.2], [0.25, 1.0, 0.3], [0.2, 0.35, 1.0]])
NUM = Numerics(n_a=40, a_max=20.0, tol_policy=1e-12, tol_value=1e-12, tol_dist=1e-13)
T = 30


@pytest.fixture(scope="module")
def three():
    params = Params(gamma=2.0, beta=0.95, omega=0.99, e_grid=(0.7, 1.3),
                    Pi=((0.9, 0.1), (0.1, 0.9)), a_low=-0.5, chi=CHI, theta=2.0,
                    closure="partial", r=0.01, w=(1.0, 0.9, 1.05), P=(1.0, 1.1, 0.95),
                    T=(0.05, -0.02, 0.0))
    block = HouseholdBlock(solve(params, NUM))
    return block, fake_news_jacobian(block, T)


def _steady_path(block, periods=T):
    return np.tile(block.steady_inputs(), (periods, 1))


def test_zero_shock_path_stays_at_steady_state(three):
    block, _ = three
    sol = block.sol
    path = transition_path(block, _steady_path(block))
    # the steady state is a fixed point of the same step to tolerances 1e-12 / 1e-13
    expected = np.concatenate([np.einsum("jsi,jsi->j", sol.dist, sol.a_next),
                               np.einsum("jsi,jsi->j", sol.dist, sol.c), sol.population,
                               np.einsum("jsi,s->j", sol.dist, sol.params.e_grid)])
    np.testing.assert_allclose(path.outputs, np.tile(expected, (T, 1)), rtol=0, atol=1e-10)
    np.testing.assert_allclose(path.dist, np.tile(sol.dist.ravel(), (T + 1, 1)), atol=1e-11)


def test_shocked_path_conserves_mass(three):
    block, _ = three
    x = _steady_path(block)
    x[:, block.inputs.index("w_1")] *= 1.0 - 0.05 * 0.8 ** np.arange(T)  # -5% wage, decaying
    x[:, block.inputs.index("r")] += 0.002 * 0.9 ** np.arange(T)
    path = transition_path(block, x)
    np.testing.assert_allclose(path.dist.sum(axis=1), 1.0, rtol=0, atol=1e-13)
    assert np.all(path.dist >= 0.0)
    L = path.outputs[:, [block.outputs.index(f"L_{j}") for j in range(3)]]
    np.testing.assert_allclose(L.sum(axis=1), 1.0, rtol=0, atol=1e-13)
    assert np.abs(path.output("L_1") - block.sol.population[1]).max() > 1e-4  # people move


def _difference(block, i, s, h):
    x = _steady_path(block)
    up, down = x.copy(), x.copy()
    up[s, i] += h
    down[s, i] -= h
    return (transition_path(block, up).outputs - transition_path(block, down).outputs) / (2 * h)


@pytest.mark.parametrize("name", ["w_0", "w_2", "P_1", "T_2", "r"])
def test_jacobian_matches_two_sided_differences(three, name):
    block, jac = three
    i = block.inputs.index(name)
    for s in (0, 1, 7):
        exact = jac.J[:, i, :, s].T  # (T, n_out)
        scale = np.abs(exact).max()
        errs = [np.abs(_difference(block, i, s, h) - exact).max() / scale for h in (1e-3, 1e-4)]
        assert errs[0] < 1e-4, (name, s, errs)
        assert errs[1] < max(errs[0] / 20.0, 1e-9), (name, s, errs)


def test_fake_news_equals_direct_linear_propagation(three):
    # the same linearised steps, propagated date by date (O(T^2) per input) instead of
    # by the fake-news recursion: agreement to rounding
    block, jac = three
    sel = [block.inputs.index(n) for n in ("w_1", "P_0", "r")]
    n_in, horizon = len(block.inputs), 12
    D_ss = block.steady_distribution()
    _, policy_ss = block.backward(block.steady_backward(), block.steady_inputs(),
                                  block.steady_inputs())
    for i in sel:
        for s in (0, 3, 11):
            dx = np.zeros((horizon, n_in, 1))
            dx[s, i, 0] = 1.0
            d_state, pols = None, [None] * horizon
            for t in range(horizon - 1, -1, -1):
                nxt = dx[t + 1] if t + 1 < horizon else None
                if d_state is None and not dx[t].any() and (nxt is None or not nxt.any()):
                    pols[t] = None
                    continue
                d_state, pols[t] = block.backward_jvp(d_state, dx[t], nxt)
            dD = np.zeros((D_ss.size, 1))
            for t in range(horizon):
                dY = block.output_vectors().T @ dD
                if pols[t] is not None:
                    dY = dY + block.aggregate_jvp(pols[t])
                np.testing.assert_allclose(dY[:, 0], jac.J[:, i, t, s], rtol=0,
                                           atol=1e-11 * np.abs(jac.J[:, i]).max())
                step = block.forward(dD[:, 0], policy_ss)[:, None]
                dD = step + (block.forward_jvp(pols[t]) if pols[t] is not None else 0.0)


def test_zero_shock_gives_zero_linear_response(three):
    _, jac = three
    assert jac.J.shape == (12, 10, T, T)
    assert np.all(jac.apply(np.zeros((T, 10))) == 0.0)
    np.testing.assert_array_equal(jac.get("L_0", "w_0")[0], 0.0)  # population is predetermined


def test_bad_inputs_raise(three):
    block, _ = three
    with pytest.raises(InvalidParamsError, match=r"x_path: must have shape \(T >= 1, 10\)"):
        transition_path(block, np.zeros((5, 3)))
    x = _steady_path(block, 5)
    x[2, block.inputs.index("P_1")] = -1.0
    with pytest.raises(InvalidParamsError, match=r"x_path\[2\] P_1: must be > 0"):
        transition_path(block, x)
    x = _steady_path(block, 5)
    x[4, 0] = np.nan
    with pytest.raises(InvalidParamsError, match=r"x_path\[4, 0\] \(w_0\): must be finite"):
        transition_path(block, x)
    with pytest.raises(InvalidParamsError, match="inputs: must be among"):
        fake_news_jacobian(block, 5, ["wage"])
    with pytest.raises(InvalidParamsError, match="T: must be an integer >= 1"):
        fake_news_jacobian(block, 0)


def test_face_value_limit_is_refused():
    params, num = examples.huggett_1993(n_a=30)
    sol = solve(params, num.with_(tol_policy=1e-9, tol_value=1e-9))
    with pytest.raises(InvalidParamsError, match="limit_on_face_value: must be False"):
        HouseholdBlock(sol)
