"""The household block's pieces: the migration kernel, distribution reuse, tol_r coherence.

Small problems (three locations, two income states, 80 asset points).
"""

import numpy as np
from scipy.special import logsumexp

from hetspace.core.incomplete_markets import Numerics, Params, dist_kernels, kernels, solve
from hetspace.core.incomplete_markets.bond import extrapolate
from hetspace.core.incomplete_markets.household import (
    _Forward,
    _transition_matrix,
    solve_at_prices,
    stationary_distribution,
)

CHI = np.array([[1.0, 0.2, 0.1], [0.3, 1.0, 0.2], [0.1, 0.4, 1.0]])


def _three(**changes):
    base = dict(gamma=2.0, beta=0.95, omega=0.98, e_grid=(0.6, 1.4),
                Pi=((0.9, 0.1), (0.1, 0.9)), a_low=-0.5, w=(1.0, 1.2, 0.9),
                P=(1.0, 1.1, 0.95), T=(0.0, 0.05, 0.0), chi=CHI, theta=2.0,
                closure="partial", r=0.03)
    base.update(changes)
    return Params(**base), Numerics(n_a=80, a_max=30.0)


def _migration_reference(v, c, P, chi, theta, one_plus_r, gamma):
    """NumPy reference of kernels.migration_block (eqs. 56, B.15)."""
    z = np.log(chi)[:, None, None, :] + theta * np.moveaxis(v, 0, -1)[None]  # (j, s, i, k)
    W = logsumexp(z, axis=-1) / theta
    mu = np.exp(z - theta * W[..., None])
    dW = one_plus_r * np.einsum("jsik,ksi->jsi", mu, c ** -gamma / P[:, None, None])
    return W, dW, mu


def test_migration_block_matches_reference_including_extreme_shifters():
    rng = np.random.default_rng(0)
    J, S, n = 4, 2, 6
    v = rng.normal(0.0, 3.0, (J, S, n))
    c = rng.uniform(0.5, 2.0, (J, S, n))
    P = rng.uniform(0.9, 1.1, J)
    chi = np.exp(rng.uniform(-3.0, 0.0, (J, J)))
    chi[2, :] = 1e-280  # origin 2: the shared-exponential sum underflows -> shifted fallback
    np.fill_diagonal(chi, 1.0)
    chi[2, 2] = 1e-280  # (the kernel does not validate chi_jj = 1; params do)
    W, dW, mu = (np.empty((J, S, n)), np.empty((J, S, n)), np.empty((J, S, n, J)))
    kernels.migration_block(v, c, P, chi, np.log(chi), 1.5, 1.03, 2.0, W, dW, mu, True)
    W_ref, dW_ref, mu_ref = _migration_reference(v, c, P, chi, 1.5, 1.03, 2.0)
    np.testing.assert_allclose(W, W_ref, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(dW, dW_ref, rtol=1e-12)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(mu.sum(axis=-1), 1.0, rtol=1e-14)


def test_distribution_refined_with_old_lu_matches_direct_solve():
    params, numerics = _three()
    first = solve_at_prices(params, numerics, 0.03, 1.0)
    assert first.factor is not None
    near = solve_at_prices(params.with_(r=0.0301), numerics, 0.0301, 1.0, first)
    assert near.factor is first.factor  # refined with the old LU: no new factorization
    direct, resid, _ = stationary_distribution(near.ap, near.a_grid, params.Pi, near.mu)
    assert near.dist_residual <= 0.1 * numerics.tol_dist and resid < 1e-13
    # both solve T d = d; L1 residuals <= 1e-12 bound the difference by about 1e-12 / gap
    np.testing.assert_allclose(near.dist, direct, atol=1e-10)


def test_distribution_refinement_falls_back_when_the_old_lu_is_far():
    params, numerics = _three()
    first = solve_at_prices(params, numerics, 0.03, 1.0)
    other = params.with_(theta=0.05, chi=np.ones((3, 3)), r=-0.02)
    far = solve_at_prices(other, numerics, -0.02, 1.0, first)
    assert far.factor is not first.factor
    assert far.dist_residual <= numerics.tol_dist
    np.testing.assert_allclose(far.dist.sum(), 1.0, rtol=1e-12)


def test_bond_rate_warm_and_cold_agree_to_tol_r():
    # The r search tightens the household tolerances so that the excess supply's
    # solver error is below tol_r times its slope (Numerics.tol_r); before that, warm
    # and cold r differed by 3e-11 > tol_r in a five-location economy.
    params, numerics = _three(closure="bond", r=None)
    base = solve(params, numerics)
    new = params.with_(theta=params.theta * 1.01)
    cold = solve(new, numerics)
    warm = solve(new, numerics, warm_start=base)
    assert abs(warm.r - cold.r) <= 2 * numerics.tol_r


def test_forward_operator_applies_the_transition_matrix():
    # the distribution's refinement applies T by the kernels instead of assembling it
    params, numerics = _three()
    st = solve_at_prices(params, numerics, 0.03, 1.0)
    J, S, n = st.ap.shape
    idx, wlo = np.empty((J, S, n), dtype=np.int64), np.empty((J, S, n))
    dist_kernels.lottery(st.ap, st.a_grid, idx, wlo)
    T, _, _ = _transition_matrix(idx, wlo, params.Pi, st.mu)
    d = np.random.default_rng(1).uniform(-1.0, 1.0, J * S * n)
    np.testing.assert_allclose(_Forward(idx, wlo, params.Pi, st.mu)(d), T @ d, atol=1e-14)


def test_policy_slope_is_the_change_of_policies_with_r():
    # reference: central differences of household solves at r* +- 1e-4 (tolerance 1e-12)
    params, numerics = _three(closure="bond", r=None)
    sol = solve(params, numerics)
    dc, dv = sol.policy_slope
    tight = numerics.with_(tol_policy=1e-12, tol_value=1e-12)
    h = 1e-4
    up, down = (solve_at_prices(params.with_(closure="partial", r=sol.r + s), tight, sol.r + s, 1.0)
                for s in (h, -h))
    ref_c, ref_v = (up.c - down.c) / (2 * h), (up.v - down.v) / (2 * h)
    # a difference quotient over search points ~1e-3 apart, solved to ~1e-6
    assert np.max(np.abs(dc - ref_c)) <= 0.02 * np.max(np.abs(ref_c))
    assert np.max(np.abs(dv - ref_v)) <= 0.02 * np.max(np.abs(ref_v))


def test_extrapolated_warm_start_predicts_r_to_second_order():
    params, numerics = _three(closure="bond", r=None)
    sols = [solve(params.with_(gamma=g), numerics) for g in (2.0, 2.1, 2.2)]
    guess = extrapolate(sols[0], sols[1], 1.0)
    # linear extrapolation errs by O(h^2), keeping the last r by O(h)
    assert abs(guess.r - sols[2].r) <= 0.1 * abs(sols[1].r - sols[2].r)
    assert np.max(np.abs(guess.c - sols[2].c)) <= 0.1 * np.max(np.abs(sols[1].c - sols[2].c))
    warm = solve(params.with_(gamma=2.2), numerics, warm_start=guess)
    assert abs(warm.r - sols[2].r) <= 2 * numerics.tol_r
    other = solve(params.with_(gamma=2.1), numerics.with_(n_a=81))
    assert extrapolate(sols[0], other, 1.0) is other  # another grid: nothing to extrapolate


def test_warm_start_already_within_the_loose_tolerance_finds_the_root():
    # From a benchmark run (an estimation's finite-difference step of 2e-5 in gamma,
    # warm-started from a guess almost at the previous solution): the first, loose
    # solve (tol 1e-6) stopped after one EGM step with excess supply -3e-6 where it is
    # +1.5e-5, the bracket was built on the wrong sign and r ended 2.4e-7 from the root
    # (tol_r = 1e-11). Reference: the cold solve.
    from hetspace.core.incomplete_markets.examples import huggett_1993

    params, numerics = huggett_1993(1.7655920819379822, -2.8214738165034015, n_a=120)
    at = [params.with_(gamma=g, beta=b, a_low=a) for g, b, a in
          [(1.7655920819379822, 0.9842201224670886, -2.8214738165034015),
           (1.9436338008867875, 0.9826175826179067, -2.3695407532508863),
           (1.9436538008867874, 0.9826175826179067, -2.3695407532508863)]]
    first = solve(at[0], numerics)
    second = solve(at[1], numerics, warm_start=first)
    guess = extrapolate(first, second, 1.5091803829298501e-05)
    cold = solve(at[2], numerics)
    for warm_start in (guess, second):
        warm = solve(at[2], numerics, warm_start=warm_start)
        assert abs(warm.r - cold.r) <= 2 * numerics.tol_r


def test_warm_start_within_1e_8_of_the_root_brackets_it_at_tight_tolerances():
    # gamma moved by 1e-9 relative: the root moves ~3e-11, the warm start's first two
    # points are 5e-12 apart (no local slope), the bracket closes at once on solves at
    # tol 1e-10 whose excess errs by ~1e-9: their signs must be confirmed at the
    # tightened tolerances (r was 3.7e-11 off before). Reference: the cold solve.
    from hetspace.core.incomplete_markets.examples import huggett_1993

    params, numerics = huggett_1993()
    base = solve(params, numerics)
    for rel in (1e-9, 1e-7):
        new = params.with_(gamma=params.gamma * (1.0 + rel))
        warm, cold = solve(new, numerics, warm_start=base), solve(new, numerics)
        assert abs(warm.r - cold.r) <= 2 * numerics.tol_r, rel


def test_exact_state_at_an_r_whose_state_was_dropped():
    # the search keeps only the 4 states nearest its latest r; the final r can be an
    # older bracket end (seen in an estimation run: KeyError). Reference: a direct solve.
    from hetspace.core.incomplete_markets.bond import _Excess

    params, numerics = _three(closure="bond", r=None)
    loose = numerics.with_(tol_policy=1e-6, tol_value=1e-6)  # every solve at the floor
    excess = _Excess(params, loose, None)
    rates = [0.01, 0.012, 0.014, 0.016, 0.018, 0.02]
    for r in rates:
        excess(r)
    assert rates[0] not in excess.states
    state = excess.exact_state_at(rates[0])
    direct = solve_at_prices(params.with_(closure="partial", r=rates[0]), loose, rates[0], 1.0)
    np.testing.assert_allclose(state.c, direct.c, atol=1e-5)
