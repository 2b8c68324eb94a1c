"""The household block's steady-state input Jacobian by the implicit function theorem
(``steady_derivatives.input_jacobian``) against an independent method: central
differences of the outputs of full household solves at tolerance 1e-12.

Tolerance: the outputs (population, labour, consumption by location, bonds) are
piecewise smooth in prices (Young's lottery and the borrowing limit put kinks
where a policy crosses a node), so central differences with step 1e-5 are exact
only to the curvature between kinks; on these 40-node grids they agree with
steps 1e-4 to about 1e-3 of a column's largest entry. A wrong sign or a missing
term of Phi_z moves columns by far more: dropping the coupling of values into
policies through the logit shares moves a column of the two-state economy by 90%
of its largest entry.
"""

import numpy as np
import pytest

from hetspace.core.incomplete_markets import Numerics
from hetspace.core.incomplete_markets.household import (
    location_totals,
    solve_at_prices,
    stationary_distribution,
)
from hetspace.core.incomplete_markets.steady_derivatives import input_jacobian, policy_lu

from .test_spatial import _spatial

NUM = Numerics(n_a=40, a_max=30.0, tol_policy=1e-12, tol_value=1e-12, tol_dist=1e-13)
STEP = 1e-5


def _household(two_states: bool, gamma: float):
    changes = dict(closure="partial", gamma=gamma, P=(1.0, 1.1, 0.95), T=(0.05, -0.02, 0.0),
                   w=(1.0, 0.9, 1.05), r=0.005, theta=2.0)
    if two_states:
        changes.update(e_grid=(0.7, 1.3), Pi=((0.9, 0.1), (0.1, 0.9)))
    return _spatial(**changes)


def _outputs(state, params):
    totals = location_totals(state.dist, state.c, params.e_grid)
    return np.concatenate([*totals, [float(np.sum(state.dist * state.a_grid))]])


@pytest.mark.parametrize("two_states, gamma", [(False, 1.0), (True, 2.0)])
def test_input_jacobian_matches_central_differences(two_states, gamma):
    params = _household(two_states, gamma)
    base = solve_at_prices(params, NUM, params.r, 1.0)
    _, _, factor = stationary_distribution(base.ap, base.a_grid, params.Pi, base.mu, base.dist)
    H = input_jacobian(base, params, factor)
    J = params.n_loc
    assert H.shape == (3 * J + 1, 3 * J)
    for k in range(3 * J):
        j = k % J
        outs = []
        for sign in (1.0, -1.0):
            w, T, P = (np.array(params.w, float), np.array(params.T, float),
                       np.array(params.P, float))
            (w, T, P)[k // J][j] += sign * STEP
            moved = params.with_trusted(w=w, T=T, P=P)
            outs.append(_outputs(solve_at_prices(moved, NUM, params.r, 1.0, base), moved))
        reference = (outs[0] - outs[1]) / (2.0 * STEP)
        scale = np.max(np.abs(reference))
        assert scale > 0.0
        np.testing.assert_allclose(H[:, k], reference, atol=5e-3 * scale, rtol=0,
                                   err_msg=f"input column {k}")
    # population is conserved: every input moves it by zero in total
    np.testing.assert_allclose(H[:J].sum(axis=0), 0.0, atol=1e-8)


@pytest.mark.parametrize("two_states", [False, True])
def test_chord_steps_reach_the_plain_fixed_point_in_fewer_egm_steps(two_states):
    # the chord iteration (household._chord) with the LU of I - Phi_z at one set of
    # prices, solving the household at prices 1% away, against plain EGM iteration from
    # the same start: same fixed point to the solver tolerance, fewer EGM steps
    params = _household(two_states, 2.0)
    num = NUM.with_(tol_policy=1e-10, tol_value=1e-10)
    base = solve_at_prices(params, num, params.r, 1.0)
    lu = policy_lu(base, params)
    moved = params.with_trusted(P=np.array(params.P) * (1.0, 1.01, 0.99),
                                T=np.array(params.T) + 0.01)
    plain = solve_at_prices(moved, num, params.r, 1.0, base)
    chord = solve_at_prices(moved, num, params.r, 1.0, base, chord=lu)
    assert chord.chord_steps > 0 and plain.chord_steps == 0
    assert chord.n_iter < plain.n_iter / 3
    # both stop at a plain step below tol; values sit within tol / (1 - beta omega)
    bo = params.beta * params.omega
    np.testing.assert_allclose(chord.c, plain.c, atol=10 * num.tol_policy / (1 - bo))
    np.testing.assert_allclose(chord.v, plain.v, rtol=10 * num.tol_value / (1 - bo))
    np.testing.assert_allclose(chord.mu, plain.mu, atol=1e-8)
    np.testing.assert_allclose(chord.dist, plain.dist, atol=1e-8)
