"""Textbook special cases: Huggett (1993) and Aiyagari (1994), as (Params, Numerics)."""

from __future__ import annotations

import numpy as np

from ..numerics.markov import markov_stationary, tauchen
from .params import Numerics, Params


def huggett_1993(risk_aversion: float = 1.5, borrowing_limit: float = -2.0,
                 n_a: int = 300) -> tuple[Params, Numerics]:
    """Huggett (1993): pure-exchange bond economy, one period = two months.

    beta = 0.96^(1/6); endowment e in {1, 0.1} with Pi = [[0.925, 0.075], [0.5, 0.5]];
    budget c + q a' = a + e with a' >= borrowing_limit on the bond's face value and
    q = 1/(1+r); bonds in zero net supply. The model's (1+r)-form holds q a, so the
    limit is q * borrowing_limit and moves with r (``limit_on_face_value=True``).
    The paper's annual rate is (1+r)^6 - 1. The grid (face value) tops out at 12,
    which the stationary distribution never reaches for these parameters.
    """
    params = Params(
        gamma=risk_aversion,
        beta=0.96 ** (1.0 / 6.0),
        e_grid=(1.0, 0.1),
        Pi=((0.925, 0.075), (0.5, 0.5)),
        a_low=borrowing_limit,
        limit_on_face_value=True,
        closure="bond",
    )
    return params, Numerics(n_a=n_a, a_max=12.0, grid="power", curvature=2.0)


def aiyagari_1994(rho: float = 0.6, sigma: float = 0.2, risk_aversion: float = 1.0,
                  n_a: int = 500) -> tuple[Params, Numerics]:
    """Aiyagari (1994), Table II: beta = 0.96, alpha = 0.36, delta = 0.08, a_low = 0.

    Log labour efficiency is AR(1) with persistence rho and unconditional s.d.
    sigma, discretised by a 7-state Tauchen chain on +-3 sigma with innovation
    s.d. sigma sqrt(1 - rho^2). Efficiency levels exp(.) are scaled to mean one
    under the chain's stationary distribution; with a zero borrowing limit the
    equilibrium r does not depend on this scale (the problem is homogeneous).
    """
    log_e, Pi = tauchen(7, rho, sigma * np.sqrt(1.0 - rho**2), width=3.0)
    e = np.exp(log_e)
    e = e / (markov_stationary(Pi) @ e)
    params = Params(
        gamma=risk_aversion,
        beta=0.96,
        e_grid=e,
        Pi=Pi,
        a_low=0.0,
        closure="capital",
        alpha=0.36,
        delta=0.08,
    )
    return params, Numerics(n_a=n_a, a_max=200.0)
