"""The simple example of section 4.1 (papers/000)."""

from __future__ import annotations

import numpy as np

from .params import Params


def example_params(**changes) -> Params:
    """Section 4.1: J = 3 symmetric industries, a period of three years, A = 10,
    alpha = 20, lam = 0.95, off-diagonal tau = 0.86 and psi = 0.87, Var(log nu) = 0.1,
    w~ = 10% and r~ = 7% everywhere, read as logs (section 3.2: x = e^x~), so gross
    w = e^0.10 = 1.105 (fn 16: "on average the wage is 1.1") and r = e^0.07. (Read as
    net rates, w = 1.10 and r = 1.07, the exact retirement share is 0.272, not 0.3.)

    Not in the paper, chosen here: beta = 0.95 (per three-year period; with lam = 0.95
    mean wealth rises over the life cycle only for beta above about 0.94), chi = 1 (no
    utility cost: the paper describes only the losses tau and psi), entrants as workers
    (alpha0 = alpha, lam0 = lam, chi0 = 1) with wealth 1 of which theta0 = 0.3 is human
    capital, varsigma_R = 1, equal cohort masses. ``changes`` override fields.
    """
    J = 3
    off = ~np.eye(J, dtype=bool)
    base = dict(
        n_ages=10, beta=0.95, alpha=20.0, w=np.full(J, np.exp(0.10)), r=np.full(J, np.exp(0.07)),
        tau=np.where(off, 0.86, 1.0), psi=np.where(off, 0.87, 1.0), chi=np.ones((J, J)),
        lam=np.full(J, 0.95), sigma_nu2=0.1, nu_mean_one=True, theta0=0.3,
    )
    base.update(changes)
    return Params(**base)


def random_production(N: int = 2, I: int = 2, seed: int = 0, **changes):
    """A seeded asymmetric N x I production block with materials and trade costs, for
    examples, tests and benchmarks (not a calibration): value-added shares U(0.4, 0.7),
    input-output shares U(0.2, 1) rescaled to the rest, capital shares U(0.25, 0.4),
    trade elasticities U(3, 6), equal final-good shares, productivities U(2, 4),
    off-diagonal iceberg costs 1 + U(0.2, 0.8), depreciation 0.05 (h) and 0.1 (k).
    ``changes`` override any field."""
    from .production import Production

    rng = np.random.default_rng(seed)
    g = rng.uniform(0.4, 0.7, (N, I))
    io = rng.uniform(0.2, 1.0, (N, I, I))
    io = io / io.sum(-1, keepdims=True) * (1.0 - g)[..., None]
    kappa = 1.0 + rng.uniform(0.2, 0.8, (I, N, N))
    kappa[:, np.arange(N), np.arange(N)] = 1.0
    base = dict(gamma_va=g, io=io, xi=rng.uniform(0.25, 0.4, N),
                vartheta=rng.uniform(3.0, 6.0, I), zeta=np.full(I, 1.0 / I),
                A=rng.uniform(2.0, 4.0, (N, I)), kappa=kappa, delta_h=0.05, delta_k=0.1)
    base.update(changes)
    return Production(**base)
