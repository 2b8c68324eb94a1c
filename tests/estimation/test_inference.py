"""Inference formulas checked on a linear moment model, where they hold exactly.

Provenance: with m(theta) = A theta and data moments m_hat = A theta0 + e,
e ~ N(0, Omega), the minimum-distance estimator is linear,
theta_hat = (A'WA)^-1 A'W m_hat, so Var(theta_hat) = (A'WA)^-1 A'W Omega W A (A'WA)^-1
holds in finite samples (no asymptotics). If the model's moments are instead
simulated, m_S(theta) = A theta + mean of S draws u_s ~ N(0, Omega) held fixed
across theta (common random numbers), theta_hat = B (m_hat - u_bar) and the
variance is (1 + 1/S) times the above. With W = Omega^-1 the J statistic
g' Omega^-1 g is exactly chi2(k - p) (Hansen 1982); for any W, g' (P Omega P')^+ g is, with
P = I - A (A'WA)^-1 A'W (the gap is P e, a rank k - p Gaussian). The tests compare the
formulas with Monte Carlo over 20,000 draws, whose standard errors set the
tolerances (4 standard errors per element).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hetspace.estimation.inference import (
    central_jacobian,
    identification,
    infer,
    j_test,
    sandwich,
)

A = np.array([[1.0, 0.5], [0.2, 2.0], [1.5, -0.3], [0.4, 0.4]])  # k = 4 moments, p = 2
THETA0 = np.array([0.7, -1.2])
L = np.array([[0.3, 0, 0, 0], [0.1, 0.2, 0, 0], [0.0, 0.05, 0.4, 0], [0.02, 0.0, 0.1, 0.25]])
OMEGA = L @ L.T
N_DRAWS = 20_000


def _estimates(m_hat: np.ndarray, W: np.ndarray) -> np.ndarray:
    """theta_hat for each row of m_hat, by least squares on the weighted system R A theta = R m."""
    R = np.linalg.cholesky(W).T
    coef, *_ = np.linalg.lstsq(R @ A, (R @ m_hat.T), rcond=None)
    return coef.T


def _assert_close_to_monte_carlo(draws: np.ndarray, V: np.ndarray) -> None:
    """Sample covariance within 4 Monte Carlo standard errors, sqrt((V_ii V_jj + V_ij^2) / n)."""
    se = np.sqrt((np.outer(np.diag(V), np.diag(V)) + V**2) / draws.shape[0])
    gap = np.abs(np.cov(draws, rowvar=False) - V)
    assert np.all(gap < 4.0 * se), (gap / se)


def test_central_jacobian_is_exact_for_linear_moments():
    def many(xs):
        return np.array([A @ x for x in xs])

    G = central_jacobian(many, THETA0, [1e-4, 1e-4], [-5, -5], [5, 5])
    np.testing.assert_allclose(G, A, rtol=1e-9, atol=1e-10)


def test_central_jacobian_one_sided_at_a_bound():
    def many(xs):
        return np.array([A @ x for x in xs])

    G = central_jacobian(many, np.array([1.0, 0.0]), [1e-3, 1e-3], [1.0, -1.0], [2.0, 1.0])
    np.testing.assert_allclose(G, A, rtol=1e-9)


@pytest.mark.parametrize("weighting", ["identity", "optimal"])
def test_sandwich_matches_monte_carlo(weighting):
    W = np.eye(4) if weighting == "identity" else np.linalg.inv(OMEGA)
    rng = np.random.default_rng(1)
    m_hat = A @ THETA0 + rng.multivariate_normal(np.zeros(4), OMEGA, size=N_DRAWS)
    theta = _estimates(m_hat, W)
    V = sandwich(A, W, OMEGA)
    _assert_close_to_monte_carlo(theta, V)
    if weighting == "optimal":  # the efficient case collapses to (A' Omega^-1 A)^-1
        np.testing.assert_allclose(V, np.linalg.inv(A.T @ W @ A), rtol=1e-10)


def test_simulation_correction_matches_monte_carlo():
    S = 2
    W = np.eye(4)
    rng = np.random.default_rng(2)
    data_err = rng.multivariate_normal(np.zeros(4), OMEGA, size=N_DRAWS)
    sim_err = rng.multivariate_normal(np.zeros(4), OMEGA, size=(N_DRAWS, S)).mean(axis=1)
    theta = _estimates(A @ THETA0 + data_err - sim_err, W)
    V = sandwich(A, W, OMEGA, n_sims=S)
    np.testing.assert_allclose(V, 1.5 * sandwich(A, W, OMEGA), rtol=1e-12)
    _assert_close_to_monte_carlo(theta, V)


def test_j_statistic_is_chi2():
    W = np.linalg.inv(OMEGA)
    rng = np.random.default_rng(3)
    m_hat = A @ THETA0 + rng.multivariate_normal(np.zeros(4), OMEGA, size=5000)
    theta = _estimates(m_hat, W)
    J = np.array([j_test(A @ t - m, OMEGA, 2)[0] for t, m in zip(theta, m_hat, strict=True)])
    assert J.mean() == pytest.approx(2.0, rel=0.05)  # E chi2(2) = 2
    pvalues = np.array([stats.chi2.sf(j, 2) for j in J])
    assert np.mean(pvalues < 0.05) == pytest.approx(0.05, abs=0.01)
    # with any W, the gap's own covariance P Omega P' gives the same chi2(k - p) law
    W_id = np.eye(4)
    theta_id = _estimates(m_hat, W_id)
    J_id = np.array([j_test(A @ t - m, OMEGA, 2, None, A, W_id)[0]
                     for t, m in zip(theta_id, m_hat, strict=True)])
    assert J_id.mean() == pytest.approx(2.0, rel=0.05)
    J_opt = j_test(A @ theta[0] - m_hat[0], OMEGA, 2, None, A, W)[0]
    assert J_opt == pytest.approx(J[0], rel=1e-8)
    assert j_test(np.zeros(2), np.eye(2), 2)[1] == 0  # exactly identified: no test
    assert np.isnan(j_test(np.zeros(2), np.eye(2), 2)[0])


def test_sensitivity_inverts_the_jacobian_and_flags_weak_parameters(caplog):
    W = np.eye(4)
    ident = identification(A, W, ["a", "b"], [1.0, 1.0])
    np.testing.assert_allclose(ident.sensitivity @ A, -np.eye(2), atol=1e-12)
    assert ident.weak == ()
    G = A.copy()
    G[:, 1] *= 1e-5  # the moments barely move with b
    with caplog.at_level("WARNING"):
        weak = identification(G, W, ["a", "b"], [1.0, 1.0])
    assert weak.weak == ("b",)
    assert "b looks weakly identified" in caplog.text


def test_infer_standard_errors_and_intervals():
    W = np.linalg.inv(OMEGA)
    out = infer(["a", "b"], THETA0, np.zeros(4), A, W, OMEGA, None, [1.0, 1.0])
    se = np.sqrt(np.diag(np.linalg.inv(A.T @ W @ A)))
    np.testing.assert_allclose(out.se, se, rtol=1e-10)
    np.testing.assert_allclose(out.ci_high - out.ci_low, 2 * 1.959963984540054 * se, rtol=1e-10)
    unknown = infer(["a", "b"], THETA0, np.zeros(4), A, W, None, None, [1.0, 1.0])
    assert np.all(np.isnan(unknown.se))


def test_simulation_correction_with_panels_of_another_size():
    """Data panel of n_data observations, S = 2 simulated panels each 4 times as large:
    the simulated average's error has covariance Omega n_data / (S n_sim), so the
    correction is 1 + 1/8 and the spec counts S n_sim / n_data = 8 data-sized panels."""
    import dataclasses

    from hetspace.estimation import load_estimation_spec

    from .conftest import REPO_ROOT

    spec = load_estimation_spec(REPO_ROOT / "configs/estimation/smm_panel_huggett.yaml")
    T, H = spec.data_shape
    sim = dataclasses.replace(spec.simulation, n_households=4 * H, n_periods=T, n_sims=2)
    spec = dataclasses.replace(spec, simulation=sim)
    assert spec.data_to_simulated() == pytest.approx(0.25)
    S_eff = spec.effective_simulations()
    assert S_eff == pytest.approx(8.0)
    W = np.eye(4)
    rng = np.random.default_rng(3)
    data_err = rng.multivariate_normal(np.zeros(4), OMEGA, size=N_DRAWS)
    sim_err = rng.multivariate_normal(np.zeros(4), OMEGA / 4.0, size=(N_DRAWS, 2)).mean(axis=1)
    theta = _estimates(A @ THETA0 + data_err - sim_err, W)
    V = sandwich(A, W, OMEGA, n_sims=S_eff)
    _assert_close_to_monte_carlo(theta, V)
