"""Shared numerics: log-sum-exp/softmax kernels, fixed points and roots, grids."""

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp as sp_logsumexp

from hetspace.core import InvalidParamsError, SolverConvergenceError
from hetspace.core.numerics import (
    double_exponential_grid,
    fixed_point,
    logit_inclusive_value,
    logsumexp,
    power_grid,
    softmax,
    solve_root,
    uniform_grid,
)

# The Dottie number, the unique real fixed point of cos (closed form via the Kepler
# equation; value from OEIS A003957).
DOTTIE = 0.7390851332151606416553


@pytest.mark.parametrize(
    "x",
    [
        np.array([0.0, 1.0, 2.0]),
        np.array([1000.0, 1000.0, -1000.0]),  # exp overflows without the shift
        np.array([-1e4, -1e4 + 1.0]),  # exp underflows without the shift
        np.array([-np.inf, 3.0, -np.inf]),  # zero weights
    ],
)
def test_logsumexp_matches_scipy_and_softmax_sums_to_one(x):
    assert logsumexp(x) == pytest.approx(sp_logsumexp(x), rel=1e-14)
    out = np.empty_like(x)
    softmax(x, out)
    assert out.sum() == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(out, np.exp(x - sp_logsumexp(x)), rtol=1e-13, atol=1e-300)


def test_logsumexp_edge_cases():
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert logsumexp(np.array([np.inf, 1.0])) == np.inf


@pytest.mark.parametrize("theta", [1e-3, 1.0, 50.0, 1e4])
def test_logit_inclusive_value(theta):
    rng = np.random.default_rng(0)
    v = rng.normal(scale=30.0, size=6)
    weight = rng.uniform(0.1, 1.0, 6)
    prob = np.empty(6)
    W = logit_inclusive_value(v, np.log(weight), theta, prob)
    expected = sp_logsumexp(np.log(weight) + theta * v) / theta
    assert W == pytest.approx(expected, rel=1e-12)
    z = np.log(weight) + theta * v
    np.testing.assert_allclose(prob, np.exp(z - sp_logsumexp(z)), rtol=1e-12, atol=1e-300)
    # W >= max_k v_k + log(w_k)/theta: the inclusive value dominates every option
    assert W >= np.max(v + np.log(weight) / theta) - 1e-12


def test_logit_small_theta_gives_weight_shares():
    v = np.array([5.0, -3.0, 100.0])
    weight = np.array([0.2, 0.5, 0.3])
    prob = np.empty(3)
    logit_inclusive_value(v, np.log(weight), 1e-9, prob)
    np.testing.assert_allclose(prob, weight, rtol=1e-6)


def test_fixed_point_cosine_and_linear_map():
    res = fixed_point(np.cos, np.array([1.0]), tol=1e-13)
    assert res.converged and res.x[0] == pytest.approx(DOTTIE, abs=1e-12)
    assert res.n_iter == len(res.history)
    rng = np.random.default_rng(1)
    M = rng.uniform(0, 1, (4, 4))
    M *= 0.9 / np.abs(np.linalg.eigvals(M)).max()
    b = rng.normal(size=4)
    lin = fixed_point(lambda x: M @ x + b, np.zeros(4), tol=1e-12, damping=0.7)
    np.testing.assert_allclose(lin.x, np.linalg.solve(np.eye(4) - M, b), rtol=1e-9)


def test_fixed_point_failure_raises_with_diagnostics():
    with pytest.raises(SolverConvergenceError, match="did not converge") as info:
        fixed_point(lambda x: 2.0 * x + 1.0, np.array([1.0]), max_iter=5, name="doubling")
    assert info.value.n_iter == 5
    assert info.value.residuals["max_abs_step"] > 1.0
    res = fixed_point(lambda x: 2.0 * x + 1.0, np.array([1.0]), max_iter=5,
                      raise_on_failure=False)
    assert not res.converged


def test_fixed_point_rejects_bad_settings():
    with pytest.raises(InvalidParamsError, match="damping: must be <= 1"):
        fixed_point(np.cos, np.array([1.0]), damping=1.5)


@pytest.mark.parametrize("method", ["hybr", "broyden1", "anderson"])
def test_solve_root(method):
    # x^3 = 2 and y = x^2 has root (2^(1/3), 2^(2/3))
    def F(z):
        return np.array([z[0] ** 3 - 2.0, z[1] - z[0] ** 2])

    def J(z):
        return np.array([[3 * z[0] ** 2, 0.0], [-2 * z[0], 1.0]])

    res = solve_root(F, np.array([1.0, 1.0]), jac=J, method=method, tol=1e-10)
    np.testing.assert_allclose(res.x, [2 ** (1 / 3), 2 ** (2 / 3)], rtol=1e-8)


def test_solve_root_failure_and_bad_method():
    with pytest.raises(SolverConvergenceError, match="did not converge"):
        solve_root(lambda z: z**2 + 1.0, np.array([1.0]), method="hybr")
    with pytest.raises(InvalidParamsError, match="method: must be one of"):
        solve_root(np.sin, np.array([1.0]), method="magic")


@pytest.mark.parametrize("make", [uniform_grid, power_grid, double_exponential_grid])
def test_grids_are_increasing_with_exact_ends(make):
    g = make(-2.0, 50.0, 40)
    assert g[0] == -2.0 and g[-1] == 50.0 and len(g) == 40
    assert np.all(np.diff(g) > 0)


def test_curved_grids_are_dense_near_lower_end():
    u = uniform_grid(0.0, 100.0, 50)
    for g in (power_grid(0.0, 100.0, 50, 3.0), double_exponential_grid(0.0, 100.0, 50)):
        assert g[1] - g[0] < (u[1] - u[0]) / 10


def test_grid_errors():
    with pytest.raises(InvalidParamsError, match=r"hi: must be > lo = 1, got 0"):
        uniform_grid(1.0, 0.0, 10)
    with pytest.raises(InvalidParamsError, match=r"n: must be >= 2"):
        power_grid(0.0, 1.0, 1)
    with pytest.raises(InvalidParamsError, match=r"curvature: must be > 0"):
        power_grid(0.0, 1.0, 10, curvature=-1.0)


def _circle_line(x):
    # roots of x0^2 + x1^2 = 4, x0 = x1: (sqrt 2, sqrt 2) from the positive quadrant
    return np.array([x[0] ** 2 + x[1] ** 2 - 4.0, x[0] - x[1]])


def _circle_line_jacobian(x):
    return np.array([[2.0 * x[0], 2.0 * x[1]], [1.0, -1.0]])


def _done_at(tol):
    return lambda x, F, dx: float(np.max(np.abs(F))) <= tol


def test_newton_solve_finds_a_closed_form_root_quadratically():
    from hetspace.core.numerics.newton import newton_solve

    out = newton_solve(_circle_line, np.array([3.0, 0.5]), _circle_line_jacobian,
                       done=_done_at(1e-14), refresh=0.0)  # refresh=0: fresh Jacobian each step
    assert out.converged
    np.testing.assert_allclose(out.x, [np.sqrt(2.0)] * 2, rtol=1e-13)
    norms = [h[0] for h in out.history]
    # quadratic: |F_k+1| <= C |F_k|^2 once close (C ~ 1 here), above rounding (1e-15)
    pairs = [(a, b) for a, b in itertools.pairwise(norms) if a < 0.1 and b > 1e-14]
    assert pairs and all(b <= 10 * a**2 for a, b in pairs)


def test_newton_solve_with_a_start_jacobian_uses_broyden_updates():
    from hetspace.core.numerics.newton import newton_solve

    calls = []

    def jacobian(x):
        calls.append(x)
        return _circle_line_jacobian(x)

    rough = _circle_line_jacobian(np.array([1.6, 1.3]))  # a nearby point's Jacobian
    out = newton_solve(_circle_line, np.array([1.5, 1.4]), jacobian, done=_done_at(1e-12),
                       jac0=rough)
    assert out.converged and len(calls) == 0  # Broyden alone got there
    np.testing.assert_allclose(out.x, [np.sqrt(2.0)] * 2, rtol=1e-11)


def test_newton_solve_reports_failure_and_backtracks_from_inadmissible_points():
    from hetspace.core.numerics.newton import newton_solve

    def no_root(x):  # x^2 + 1 > 0: the line search ends
        return np.array([x[0] ** 2 + 1.0])

    out = newton_solve(no_root, np.array([0.5]), lambda x: np.array([[2.0 * x[0]]]),
                       done=_done_at(1e-12))
    assert not out.converged and "line search failed" in out.message

    def positive_only(x):  # log x = 0, defined for x > 0; the full step from 20 leaves it
        return None if x[0] <= 0.0 else np.array([np.log(x[0])])

    out = newton_solve(positive_only, np.array([20.0]), lambda x: np.array([[1.0 / x[0]]]),
                       done=_done_at(1e-13))
    assert out.converged
    np.testing.assert_allclose(out.x, [1.0], rtol=1e-12)
    assert newton_solve(positive_only, np.array([-1.0]), lambda x: np.eye(1),
                        done=_done_at(1e-13)).message == "the starting point is not admissible"
