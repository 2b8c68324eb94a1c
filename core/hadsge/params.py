"""Parameters and numerics of Dvorkin's heterogeneous-agents economy (papers/000, section 3).

One type e per ``Params`` (types differ only in parameters: solve one ``Params`` per
type). Ages a = 0 (entrant) .. A - 1 work, a = A is retirement. Markets j = 1..J
(region x industry pairs; the code indexes them 0..J-1). See the package docstring for
the readings of the paper this module fixes (nu's mean, retirement, the Lemma-1 rates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Described
from ..protocol import Record
from ..validation import Checker

#: The share rules of ``Numerics.share_rule``.
SHARE_RULES = ("exact", "lemma1")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of the household block of one type (section 3.1-3.2, Assumption 1).

    Returns: ``w[l]``, ``r[l]`` are the gross real returns on human capital and assets in
    market l (section 4.1's w~ = 10% is w = e^0.1), constant over time. Frictions (Assumption 1,
    eq. 6): ``tau[j, l]`` the share of human capital carried from j to l (> 0, may
    exceed one, fn 6), ``psi[j, l]`` the same for assets, ``chi[j, l]`` the utility cost
    (enters as log chi). Fréchet opportunity shocks eps_l: shape ``alpha`` > 1, scale
    ``lam[l]``. Entrants (eq. 7) draw their own shape ``alpha0`` and scales ``lam0``
    (None: as workers), pay utility costs ``chi0[l]`` (None: ones) and no tau or psi,
    and arrive with effective wealth ``wealth0`` of which a share ``theta0`` is human
    capital. ``sigma_nu2`` = Var(log nu). ``nu_mean_one``: True reads nu with E[nu] = 1
    (log nu ~ N(-s^2/2, s^2)), the reading under which the section-4.1 share is the
    paper's 0.3; False reads Lemma 1 literally (log nu ~ N(0, s^2), E[nu] = e^(s^2/2),
    Proposition 2's factor), under which the exact share at the 4.1 numbers is 0.8.
    ``varsigma_R`` scales retirement utility (eq. 8; it affects no choice).
    ``cohort_mass[a]``: mass Psi^a of workers of age a = 0..A-1 (None: equal; rescaled
    to sum to one). Retirees (age A) supply no factors here (the paper is silent).
    A scalar ``tau``, ``psi`` or ``chi`` (a sweep axis, an estimated parameter) is the
    symmetric matrix with that value off the diagonal and ones on it (no loss or cost
    for stayers); the field then holds that (J, J) matrix.
    """

    n_ages: int
    beta: float
    alpha: float
    w: np.ndarray
    r: np.ndarray
    tau: np.ndarray
    psi: np.ndarray
    chi: np.ndarray
    lam: np.ndarray
    sigma_nu2: float
    nu_mean_one: bool = True
    alpha0: float | None = None
    lam0: np.ndarray | None = None
    chi0: np.ndarray | None = None
    theta0: float = 0.3
    wealth0: float = 1.0
    varsigma_R: float = 1.0
    cohort_mass: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        A = check.scalar(self, "n_ages", ge=2, le=200, integer=True)
        check.scalar(self, "beta", gt=0.0, lt=1.0)
        check.scalar(self, "alpha", gt=1.0, le=1e6)
        if self.alpha0 is not None:
            check.scalar(self, "alpha0", gt=1.0, le=1e6)
        check.scalar(self, "sigma_nu2", ge=0.0, le=4.0)
        check.require(isinstance(self.nu_mean_one, bool), "nu_mean_one",
                      "must be true or false", self.nu_mean_one)
        check.scalar(self, "theta0", ge=0.0, le=1.0)
        check.scalar(self, "wealth0", gt=0.0)
        check.scalar(self, "varsigma_R", gt=0.0)
        w = check.array(self, "w", ndim=1, gt=0.0)
        J = None if w is None else w.shape[0]
        if J is not None and J == 0:
            check.fail("w", "must have at least one market", Described("shape (0,)"))
            J = None
        if J is not None:
            for name in ("tau", "psi", "chi"):
                _expand_off_diagonal(self, name, J)
        vec = None if J is None else (J,)
        mat = None if J is None else (J, J)
        check.array(self, "r", ndim=1, shape=vec, gt=0.0)
        for name in ("tau", "psi", "chi"):
            check.array(self, name, ndim=2, shape=mat, gt=0.0)
        check.array(self, "lam", ndim=1, shape=vec, gt=0.0)
        check.array(self, "lam0", ndim=1, shape=vec, gt=0.0, optional=True)
        check.array(self, "chi0", ndim=1, shape=vec, gt=0.0, optional=True)
        mass = check.array(self, "cohort_mass", ndim=1, shape=None if A is None else (A,),
                           ge=0.0, optional=True)
        if mass is not None and mass.sum() <= 0.0:
            check.fail("cohort_mass", "must have a positive entry", Described("all zero"))
        check.done()

    @property
    def n_markets(self) -> int:
        return int(self.w.shape[0])

    @property
    def log_nu_mean(self) -> float:
        """E[log nu]: -s^2/2 with ``nu_mean_one``, else 0 (Lemma 1)."""
        return -0.5 * self.sigma_nu2 if self.nu_mean_one else 0.0

    @property
    def nu_mean(self) -> float:
        """E[nu]: 1 with ``nu_mean_one``, else e^(s^2/2) (Proposition 2)."""
        return 1.0 if self.nu_mean_one else float(np.exp(0.5 * self.sigma_nu2))

    @property
    def alpha_entrant(self) -> float:
        return float(self.alpha if self.alpha0 is None else self.alpha0)

    @property
    def lam_entrant(self) -> np.ndarray:
        return self.lam if self.lam0 is None else self.lam0

    @property
    def chi_entrant(self) -> np.ndarray:
        return np.ones(self.n_markets) if self.chi0 is None else self.chi0

    @property
    def cohort_weights(self) -> np.ndarray:
        """Psi^a for worker ages a = 0..A-1, summing to one."""
        if self.cohort_mass is None:
            return np.full(self.n_ages, 1.0 / self.n_ages)
        return self.cohort_mass / self.cohort_mass.sum()


def _expand_off_diagonal(params: Params, name: str, J: int) -> None:
    """A real scalar field becomes the (J, J) matrix with it off the diagonal, ones on it
    (anything else is left to the array check)."""
    value = getattr(params, name)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        matrix = np.full((J, J), float(value))
        np.fill_diagonal(matrix, 1.0)
        object.__setattr__(params, name, matrix)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """Quadrature and root finding of the household block, and the simulated moments.

    n_quad: Gauss-Hermite nodes over log nu. share_tol: width of the bracket at which the
    human-capital share's root stops (bisection with secant steps on [0, 1]);
    max_share_iter: its iteration cap. share_rule: "exact" solves eqs. (11)-(12);
    "lemma1" uses Lemma 1's approximations for the shares (the values and choice
    probabilities stay those of Proposition 1). n_sim, seed: agents and seed of
    simulated statistics (``simulate.py``).
    """

    n_quad: int = 11
    share_tol: float = 1e-13
    max_share_iter: int = 200
    share_rule: str = "exact"
    n_sim: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "n_quad", ge=1, le=100, integer=True)
        check.scalar(self, "share_tol", ge=1e-16, le=1e-3)
        check.scalar(self, "max_share_iter", ge=10, le=100_000, integer=True)
        check.require(self.share_rule in SHARE_RULES, "share_rule",
                      f"must be one of {list(SHARE_RULES)}", self.share_rule)
        check.scalar(self, "n_sim", ge=1, le=10_000_000, integer=True)
        check.scalar(self, "seed", ge=0, integer=True)
        check.done()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GENumerics(Record):
    """The general-equilibrium solvers (steady state, transition, hat algebra).

    tol: max |log w_implied - log w| and the same for r at a solution (the gross returns
    the firms' real factor prices imply against those households were given); max_iter:
    Newton steps; fd_step: forward-difference step in log returns for Jacobians;
    market_tol, market_max_iter: the static goods-market block (CDP) per period.
    """

    tol: float = 1e-11
    max_iter: int = 40
    fd_step: float = 1e-6
    market_tol: float = 1e-13
    market_max_iter: int = 60

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "tol", ge=1e-15, le=1e-2)
        check.scalar(self, "max_iter", ge=1, le=10_000, integer=True)
        check.scalar(self, "fd_step", ge=1e-10, le=1e-2)
        check.scalar(self, "market_tol", ge=1e-15, le=1e-4)
        check.scalar(self, "market_max_iter", ge=1, le=10_000, integer=True)
        check.done()
