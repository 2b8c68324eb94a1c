"""Parameters and numerics of the Armington family (lecture 11, "Spatial models")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Described
from ..protocol import Record
from ..validation import Checker


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of an N-region Armington economy.

    sigma: elasticity of substitution (> 1). tau: (N, N) iceberg costs from
    origin i to destination j (>= 1). A: (N,) productivity. L: (N,) labour, or
    with migration the initial allocation whose sum is the fixed total. a:
    (N, N) taste shifters (default ones). kappa: migration elasticity; None
    means labour is immobile, otherwise L_j is proportional to
    B_j (w_j / P_j)^kappa (the lecture's static migration is kappa = 1).
    B: (N,) amenities (None means ones; only with kappa). numeraire: region whose
    wage is 1; None normalises world income sum_i w_i L_i = sum_i L_i.
    """

    sigma: float
    tau: np.ndarray
    A: np.ndarray
    L: np.ndarray
    a: np.ndarray | None = None
    kappa: float | None = None
    B: np.ndarray | None = None
    numeraire: int | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "sigma", gt=1.0)
        A = check.array(self, "A", ndim=1, gt=0.0)
        n = None if A is None else A.shape[0]
        square = None if n is None else (n, n)
        check.array(self, "tau", ndim=2, shape=square, ge=1.0)
        check.array(self, "L", ndim=1, shape=None if n is None else (n,), gt=0.0)
        if self.a is None:
            if n is not None:
                object.__setattr__(self, "a", _ones((n, n)))
        else:
            check.array(self, "a", ndim=2, shape=square, gt=0.0)
        if self.kappa is not None:
            check.scalar(self, "kappa", gt=0.0)
        if self.B is not None:
            check.require(
                self.kappa is not None,
                "B",
                "amenities need kappa (migration)",
                Described("given with kappa=None"),
            )
            check.array(self, "B", ndim=1, shape=None if n is None else (n,), gt=0.0)
        if self.numeraire is not None and n is not None:
            check.scalar(self, "numeraire", ge=0, le=n - 1, integer=True)
        check.done()

    @property
    def n_regions(self) -> int:
        return int(self.A.shape[0])

    @property
    def amenities(self) -> np.ndarray:
        """B, or ones when not given."""
        return np.ones(self.n_regions) if self.B is None else self.B


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """tol: largest admissible trade imbalance relative to a region's gross trade."""

    tol: float = 1e-11
    max_iter: int = 200

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "tol", ge=1e-14, lt=1e-2)
        check.scalar(self, "max_iter", ge=1, integer=True)
        check.done()


def _ones(shape) -> np.ndarray:
    out = np.ones(shape)
    out.setflags(write=False)
    return out
