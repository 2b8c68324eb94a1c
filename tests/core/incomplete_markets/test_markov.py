"""Markov-chain discretisations (core/numerics/markov.py)."""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.numerics import markov_stationary, rouwenhorst, tauchen


def test_tauchen_rows_grid_and_iid_case():
    grid, Pi = tauchen(7, 0.6, 0.2 * np.sqrt(1 - 0.36), width=3.0)
    np.testing.assert_allclose(Pi.sum(axis=1), 1.0, atol=1e-14)
    # the grid spans +-3 unconditional s.d. (= 0.2 here by construction)
    np.testing.assert_allclose(grid[[0, -1]], [-0.6, 0.6], rtol=1e-14)
    _, Pi0 = tauchen(5, 0.0, 0.3)
    np.testing.assert_allclose(Pi0, np.tile(Pi0[0], (5, 1)), atol=1e-15)  # iid: identical rows
    # interior cell of an iid chain: normal mass within half a step of the point
    from scipy.stats import norm
    g0, _ = tauchen(5, 0.0, 0.3)
    h = (g0[1] - g0[0]) / 2
    np.testing.assert_allclose(Pi0[0, 2], norm.cdf(h / 0.3) - norm.cdf(-h / 0.3), rtol=1e-12)


def test_rouwenhorst_matches_ar1_conditional_moments():
    rho, sig = 0.9, 0.1
    grid, Pi = rouwenhorst(9, rho, sig)
    np.testing.assert_allclose(Pi.sum(axis=1), 1.0, atol=1e-14)
    # Rouwenhorst is exact in the first two conditional moments (Kopecky-Suen 2010)
    np.testing.assert_allclose(Pi @ grid, rho * grid, atol=1e-13)
    pi = markov_stationary(Pi)
    np.testing.assert_allclose(pi @ grid**2, sig**2 / (1 - rho**2), rtol=1e-12)


def test_markov_stationary_two_state_closed_form():
    a, b = 0.075, 0.5  # Huggett's chain: pi = (b, a) / (a + b)
    pi = markov_stationary([[1 - a, a], [b, 1 - b]])
    np.testing.assert_allclose(pi, [b / (a + b), a / (a + b)], rtol=1e-14)


def test_markov_stationary_rejects_non_stochastic():
    with pytest.raises(InvalidParamsError, match=r"Pi\[1\]: rows must sum to 1"):
        markov_stationary([[0.5, 0.5], [0.2, 0.7]])


def test_discretisers_validate():
    with pytest.raises(InvalidParamsError, match="rho: must be < 1"):
        tauchen(5, 1.0, 0.1)
    with pytest.raises(InvalidParamsError, match="sigma_eps: must be >= 0"):
        rouwenhorst(5, 0.5, -0.1)
