"""Tests of numerics.krylov.gmres."""

from __future__ import annotations

import numpy as np

from hetspace.core.numerics.krylov import gmres


def _system(n=300, seed=0):
    rng = np.random.default_rng(seed)
    A = np.eye(n) * 3.0 + rng.normal(size=(n, n)) / np.sqrt(n)  # nonsymmetric, well posed
    x = rng.normal(size=n)
    return A, x, A @ x


def test_solves_a_nonsymmetric_system_with_restarts():
    """Against the known solution, restarting every 5 iterations (the restart path), and
    with a diagonal preconditioner (the right-preconditioned path)."""
    A, x, b = _system()
    for psolve in (lambda v: v, lambda v: v / np.diag(A)):
        res = gmres(lambda z: A @ z, psolve, b, rtol=1e-12, restart=5, maxiter=200)
        assert res.converged
        np.testing.assert_allclose(res.x, x, rtol=0, atol=1e-9)


def test_exact_preconditioner_converges_in_one_step_and_failure_is_reported():
    """With M = A the preconditioned operator is the identity: one Krylov vector (plus
    the restart's residual). Too few iterations for a hard system is reported, not
    raised."""
    A, x, b = _system()
    inv = np.linalg.inv(A)
    res = gmres(lambda z: A @ z, lambda v: inv @ v, b, rtol=1e-10)
    assert res.converged and res.n_matvec <= 3
    np.testing.assert_allclose(res.x, x, atol=1e-8)
    hard = np.diag(np.linspace(1e-3, 1.0, 300))
    res = gmres(lambda z: hard @ z, lambda v: v, np.ones(300), rtol=1e-12, restart=3,
                maxiter=2)
    assert not res.converged and res.residual > 1e-12
