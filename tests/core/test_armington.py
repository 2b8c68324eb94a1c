"""Armington family: lecture reference values, invariants, exact hat algebra vs levels."""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError, SolverConvergenceError, get_model
from hetspace.core.armington import (
    Numerics,
    Params,
    TradeData,
    exact_hat,
    solve,
    solve_equilibrium,
)
from hetspace.core.armington.market import Migration, evaluate, jacobian

# The lecture (papers/001, "Solving Armington") iterates with damping 0.1 until the
# largest relative wage step is below 1e-5, so its printed numbers are accurate to
# about 1e-5 / 0.1 = 1e-4 relative. Our solver clears markets to 1e-11.
LECTURE_RTOL = 1e-4
TAU2 = [[1.0, 5.0], [5.0, 1.0]]


def test_lecture_symmetric():
    eq = solve_equilibrium(2.0, TAU2, [1.0, 1.0], [1.0, 1.0])
    np.testing.assert_allclose(eq.w, [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(eq.lam, [[5 / 6, 1 / 6], [1 / 6, 5 / 6]], rtol=1e-12)


def test_lecture_productivity_shock():
    eq = solve_equilibrium(2.0, TAU2, [10.0, 1.0], [1.0, 1.0])
    np.testing.assert_allclose(eq.w, [1.6143181095745787, 0.38568189042542783], rtol=LECTURE_RTOL)
    np.testing.assert_allclose(eq.lam, [[0.922754, 0.323331], [0.077246, 0.676669]],
                               rtol=LECTURE_RTOL)


def test_lecture_labour_supply_and_three_regions():
    eq = solve_equilibrium(2.0, TAU2, [1.0, 1.0], [5.0, 1.0])
    np.testing.assert_allclose(eq.w, [0.8780637781792023, 1.6096811091040044], rtol=LECTURE_RTOL)
    tau3 = [[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [1e9, 5.0, 1.0]]
    eq3 = solve_equilibrium(2.0, tau3, np.ones(3), np.ones(3))
    np.testing.assert_allclose(eq3.w, [1.2539609132194725, 1.095427131707213, 0.6506119550733213],
                               rtol=LECTURE_RTOL)


def test_lecture_exact_hat():
    # lam = [[.8, .2], [.2, .8]], w = L = 1, so X = lam (income 1 each), A_hat = (10, 1).
    X = np.array([[0.8, 0.2], [0.2, 0.8]])
    hat = exact_hat(X, 2.0, A_hat=[10.0, 1.0])
    np.testing.assert_allclose(hat.real_wage_hat, [8.817954095849839, 1.289024997893565],
                               rtol=LECTURE_RTOL)
    np.testing.assert_allclose(hat.lam_hat, [[1.13405, 1.89688], [0.4638, 0.77578]],
                               rtol=LECTURE_RTOL)


def _independent_check(eq, p):
    """Equilibrium conditions recomputed here with plain NumPy, straight from the lecture."""
    cost = p.a * (p.tau * (eq.w / p.A)[:, None]) ** (1 - p.sigma)
    lam = cost / cost.sum(axis=0)
    P = cost.sum(axis=0) ** (1 / (1 - p.sigma))
    np.testing.assert_allclose(eq.lam, lam, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(eq.P, P, rtol=1e-10)
    income = eq.w * eq.L
    np.testing.assert_allclose(lam @ income, income, rtol=1e-9)
    np.testing.assert_allclose(lam.sum(axis=0), 1.0, rtol=1e-12)


def _random_economy(rng, n, kappa):
    tau = 1 + rng.exponential(1.0, (n, n))
    np.fill_diagonal(tau, 1.0)
    return dict(tau=tau, A=rng.lognormal(0, 0.5, n), L=rng.lognormal(0, 0.5, n),
                a=rng.lognormal(0, 0.3, (n, n)),
                B=None if kappa is None else rng.lognormal(0, 0.3, n))


@pytest.mark.parametrize("kappa", [None, 1.0])
def test_invariants_and_normalisations(kappa):
    rng = np.random.default_rng(1)
    fund = _random_economy(rng, 6, kappa)
    eq = solve_equilibrium(3.0, kappa=kappa, **fund)
    _independent_check(eq, eq.params)
    np.testing.assert_allclose(eq.Y.sum(), fund["L"].sum(), rtol=1e-12)
    np.testing.assert_allclose(eq.L.sum(), fund["L"].sum(), rtol=1e-12)
    if kappa is not None:  # logit labour supply L_j proportional to B_j (w_j/P_j)^kappa
        supply = fund["B"] * eq.real_wage**kappa
        np.testing.assert_allclose(eq.L, fund["L"].sum() * supply / supply.sum(), rtol=1e-12)
    eq2 = solve_equilibrium(3.0, kappa=kappa, numeraire=2, **fund)
    assert eq2.w[2] == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(eq2.w / eq2.w[0], eq.w / eq.w[0], rtol=1e-10)
    np.testing.assert_allclose(eq2.real_wage / eq2.real_wage[0], eq.real_wage / eq.real_wage[0],
                               rtol=1e-10)


@pytest.mark.parametrize("seed", range(12))
def test_exact_hat_equals_ratio_of_levels(seed):
    """The cross-method property: hat algebra from baseline flows alone == levels ratios."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 11))
    sigma = float(rng.choice([1.05, 1.5, 3.0, 8.0]))
    kappa = [None, 0.5, 1.0, 3.0][seed % 4]
    fund = _random_economy(rng, n, kappa)
    base = solve_equilibrium(sigma, kappa=kappa, **fund)
    A_hat = rng.lognormal(0, 0.3, n)
    tau1 = np.maximum(fund["tau"] * rng.lognormal(0, 0.2, (n, n)), 1.0)
    a_hat = rng.lognormal(0, 0.2, (n, n))
    B_hat = None if kappa is None else rng.lognormal(0, 0.2, n)
    new = solve_equilibrium(sigma, tau1, fund["A"] * A_hat, fund["L"], fund["a"] * a_hat,
                            kappa=kappa, B=None if kappa is None else fund["B"] * B_hat)
    hat = exact_hat(base.X, sigma, A_hat=A_hat, tau_hat=tau1 / fund["tau"], a_hat=a_hat,
                    B_hat=B_hat, kappa=kappa, L=None if kappa is None else base.L)
    # Both sides clear markets to 1e-11 of gross trade; wage errors are that over the
    # (sigma - 1)-scaled Jacobian, so 1e-8 leaves two orders of margin at sigma = 1.05.
    rtol = 1e-8
    np.testing.assert_allclose(hat.w_hat, new.w / base.w, rtol=rtol)
    np.testing.assert_allclose(hat.P_hat, new.P / base.P, rtol=rtol)
    np.testing.assert_allclose(hat.lam_hat, new.lam / base.lam, rtol=rtol)
    np.testing.assert_allclose(hat.real_wage_hat, new.real_wage / base.real_wage, rtol=rtol)
    np.testing.assert_allclose(hat.L_hat, new.L / base.L, rtol=rtol)
    np.testing.assert_allclose(hat.X_new, new.X, rtol=rtol)
    if kappa is not None:
        ratio = new.moments()["welfare"] / base.moments()["welfare"]
        assert hat.welfare_hat == pytest.approx(ratio, rel=rtol)


def test_exact_hat_no_shock_and_numeraire():
    rng = np.random.default_rng(7)
    base = solve_equilibrium(4.0, **_random_economy(rng, 5, None))
    hat = exact_hat(base.X, 4.0)
    np.testing.assert_allclose(hat.w_hat, 1.0, rtol=1e-12)
    np.testing.assert_allclose(hat.P_hat, 1.0, rtol=1e-12)
    shocked = exact_hat(TradeData(X=base.X), 4.0, A_hat=[1.2, 1, 1, 1, 0.9], numeraire=3)
    assert shocked.w_hat[3] == pytest.approx(1.0, rel=1e-14)
    world = exact_hat(base.X, 4.0, A_hat=[1.2, 1, 1, 1, 0.9])
    np.testing.assert_allclose(world.Y_hat @ base.Y, base.Y.sum(), rtol=1e-12)
    np.testing.assert_allclose(shocked.real_wage_hat, world.real_wage_hat, rtol=1e-10)


def test_exact_hat_keeps_zero_flows_zero():
    # A trade cycle 0 -> 1 -> 2 -> 0 with balanced trade (row sums equal column sums).
    X = np.array([[5.0, 1.0, 0.0], [0.0, 4.0, 1.0], [1.0, 0.0, 3.0]])
    hat = exact_hat(X, 3.0, A_hat=[1.1, 1.0, 0.95])
    assert hat.lam_new[2, 0] > 0 and hat.lam_new[0, 2] == 0.0
    assert np.isnan(hat.lam_hat[0, 2])
    np.testing.assert_allclose(hat.lam_new.sum(axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize("kappa", [None, 2.0])
def test_jacobian_matches_finite_differences(kappa):
    rng = np.random.default_rng(3)
    n, sigma = 5, 2.5
    log_g = rng.normal(size=(n, n))
    c = rng.lognormal(size=n)
    labour = rng.lognormal(size=n) if kappa is None else Migration(kappa, rng.normal(size=n), 3.0)
    log_x = rng.normal(scale=0.3, size=n)
    state = evaluate(log_g, c, sigma, labour, log_x)
    jac = jacobian(state, sigma, labour)
    h = 1e-6
    fd = np.empty((n, n))
    for k in range(n):
        up, dn = log_x.copy(), log_x.copy()
        up[k] += h
        dn[k] -= h
        s_up, s_dn = (evaluate(log_g, c, sigma, labour, v) for v in (up, dn))
        fd[:, k] = ((s_up.exports - s_up.imports) - (s_dn.exports - s_dn.imports)) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())


@pytest.mark.parametrize(
    "sigma, tau_scale, kappa",
    [(2.0, 1e9, None), (8.0, 1e9, None), (1.01, 50.0, None), (20.0, 30.0, None),
     (2.0, 1e9, 1.0), (4.0, 20.0, 3.0)],
)
def test_hard_cases_converge_to_true_equilibrium(sigma, tau_scale, kappa):
    rng = np.random.default_rng(11)
    n = 50
    if tau_scale >= 1e9:
        tau = np.full((n, n), tau_scale)  # near autarky: off-diagonal shares ~ tau^(1-sigma)
    else:
        tau = 1 + rng.uniform(0, tau_scale, (n, n))
    np.fill_diagonal(tau, 1.0)
    A = rng.lognormal(0, 0.5, n)
    eq = solve_equilibrium(sigma, tau, A, np.ones(n), kappa=kappa)
    # Independent check of balanced trade relative to gross trade (the near-autarky flows
    # are ~1e-9 of income or less: a check relative to income would pass any wages).
    cost = (tau * (eq.w / A)[:, None]) ** (1 - sigma)
    lam = cost / cost.sum(axis=0)
    off = lam * (1 - np.eye(n))
    exports, imports = off @ eq.Y, eq.Y * off.sum(axis=0)
    np.testing.assert_allclose(exports, imports, rtol=1e-9)
    assert eq.residuals["max_relative_trade_imbalance"] <= eq.numerics.tol


def test_non_convergence_raises_with_residuals():
    rng = np.random.default_rng(5)
    params = Params(sigma=3.0, **_random_economy(rng, 8, None))
    with pytest.raises(SolverConvergenceError, match="did not clear") as info:
        solve(params, Numerics(max_iter=1))
    assert info.value.residuals["max_relative_trade_imbalance"] > 1e-11
    assert info.value.n_iter == 1


def test_warm_start_gives_cold_answer_in_fewer_steps():
    rng = np.random.default_rng(9)
    fund = _random_economy(rng, 20, None)
    base = solve_equilibrium(4.0, **fund)
    near = Params(sigma=4.05, **fund)
    cold, warm = solve(near), solve(near, warm_start=base)
    np.testing.assert_allclose(warm.w, cold.w, rtol=1e-10)
    assert warm.n_iter < cold.n_iter


def test_registered_and_moments():
    model = get_model("armington")
    params = model.params_from_dict({"sigma": 2.0, "tau": TAU2, "A": [10, 1], "L": [1, 1]})
    sol = model.solve(params)
    m = sol.moments()
    assert tuple(m) == model.moment_names  # what sweep and estimation specs are checked against
    assert m["trade_openness"] == pytest.approx(1 - np.trace(sol.X) / sol.Y.sum())
    assert m["domestic_share_mean"] == pytest.approx((0.922754 + 0.676669) / 2, rel=1e-4)
    assert 0 < m["real_wage_min"] <= m["real_wage_mean"] <= m["real_wage_max"]


# ---- errors ---------------------------------------------------------------------------

GOOD = dict(sigma=2.0, tau=TAU2, A=[1.0, 1.0], L=[1.0, 1.0])


@pytest.mark.parametrize(
    "change, match",
    [
        ({"sigma": 1.0}, r"sigma: must be > 1, got 1"),
        ({"sigma": 0.5}, r"sigma: must be > 1"),
        ({"tau": [[1.0, 0.5], [5.0, 1.0]]}, r"tau\[0, 1\]: must be >= 1, got 0.5"),
        ({"A": [1.0, -2.0]}, r"A\[1\]: must be > 0, got -2"),
        ({"L": [1.0, float("nan")]}, r"L\[1\]: must be finite"),
        ({"tau": np.ones((3, 3))}, r"tau: must have shape \(2, 2\), got shape \(3, 3\)"),
        ({"a": [[1.0, 0.0], [1.0, 1.0]]}, r"a\[0, 1\]: must be > 0"),
        ({"B": [1.0, 1.0]}, r"B: amenities need kappa"),
        ({"kappa": -1.0}, r"kappa: must be > 0"),
        ({"numeraire": 2}, r"numeraire: must be <= 1"),
        ({"sigma": "two"}, r"sigma: must be a real number"),
    ],
)
def test_invalid_params_name_field_and_value(change, match):
    with pytest.raises(InvalidParamsError, match=match):
        Params(**{**GOOD, **change})


def test_all_violations_reported_at_once():
    with pytest.raises(InvalidParamsError) as info:
        Params(sigma=0.9, tau=[[1.0, 0.2], [1.0, 1.0]], A=[0.0, 1.0], L=[1.0, 1.0])
    fields = [v.field for v in info.value.violations]
    assert fields == ["sigma", "A[0]", "tau[0, 1]"]


def test_with_rejects_unknown_field_and_changes_known():
    p = Params(**GOOD)
    assert p.with_(sigma=3.0).sigma == 3.0
    with pytest.raises(InvalidParamsError, match="gamma: is not a field of Params"):
        p.with_(gamma=2.0)


@pytest.mark.parametrize(
    "X, match",
    [
        ([[1.0, 0.0], [0.0, 0.0]], r"X\[1, :\]: row sums must be positive"),
        ([[1.0, -1.0], [1.0, 1.0]], r"X\[0, 1\]: must be >= 0"),
        ([[1.0, 2.0], [1.0, 1.0]], r"X\[0\]: trade must be balanced"),
        ([[1.0, 0.0], [0.0, 1.0]], r"one trading block"),
        ([[1.0, 1.0, 1.0]], r"X: must be square"),
    ],
)
def test_bad_trade_data(X, match):
    with pytest.raises(InvalidParamsError, match=match):
        exact_hat(X, 2.0)


def test_bad_shares_and_hat_arguments():
    with pytest.raises(InvalidParamsError, match=r"lam\[:, 1\]: columns must sum to one"):
        TradeData.from_shares([[0.8, 0.3], [0.2, 0.8]], [1.0, 1.0])
    X = np.array([[0.8, 0.2], [0.2, 0.8]])
    with pytest.raises(InvalidParamsError, match="L: baseline labour is needed with kappa"):
        exact_hat(X, 2.0, kappa=1.0)
    with pytest.raises(InvalidParamsError, match=r"A_hat: must have shape \(2,\)"):
        exact_hat(X, 2.0, A_hat=[1.0, 1.0, 1.0])
    with pytest.raises(InvalidParamsError, match=r"sigma: must be > 1"):
        exact_hat(X, 1.0)
    data = TradeData.from_shares([[0.8, 0.2], [0.2, 0.8]], [1.0, 1.0])
    np.testing.assert_allclose(data.X, X)
