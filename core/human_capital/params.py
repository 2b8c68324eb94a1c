"""Parameters and numerics of the life-cycle economy that values human capital.

The economy here is the permanent-shock economy of Huggett and Kaplan (2015)
section 2.4 extended with Epstein-Zin preferences, survival and a stock
(papers/004, sections 2 and 4): log earnings growth and the log stock return are
iid jointly normal. The section-4 earnings process (VAR aggregates, skewed
idiosyncratic shocks, retirement benefits) is later work; the solver
(``kernels.py``) already takes any finite Markov state for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Described
from ..protocol import Record
from ..validation import Checker


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of the life-cycle valuation problem (ages j = 1..n_ages).

    Preferences (section 4): Epstein-Zin W(c, F) = [(1 - beta) c^(1-gamma)
    + beta psi_{j+1} F^(1-gamma)]^(1/(1-gamma)), F(V') = (E V'^(1-alpha))^(1/(1-alpha));
    gamma is the inverse IES, alpha the risk aversion; alpha = gamma is CRRA (the
    section-2.4 rho). ``beta=None`` sets beta by the section-2.4 restriction
    (generalised to Epstein-Zin, see ``closed_form.beta_hand_to_mouth``), under which
    consuming earnings is optimal; it needs ``stock=False``.

    Earnings e_j = z_j g_j: z_j = z_{j-1} exp(eps_j) with eps iid N(mu_z, sigma_z^2)
    (section 2.4: e_j = prod z_k), g_j the deterministic profile ``profile``
    (None: ones; length n_ages). ``wealth_1``: financial wealth at age 1 relative
    to e_1 (the paper's a_1 R_1, zero in section 2.4). Assets: a bond with gross
    return 1 + r and, with ``stock=True``, a stock whose log return is
    N(mu_s, sigma_s^2), correlated ``corr`` with eps; no short sales, no borrowing.
    ``hold_stock=False`` forces the stock share to zero while the stock still exists
    (it prices payoffs and the decomposition still projects on it).
    ``survival[j-1]`` is psi_{j+1}, the probability of living from age j to j + 1
    (None: ones; the last entry is ignored: nobody lives past n_ages). A unit
    intertemporal elasticity (gamma = 1) needs survival ones (the aggregator has no
    limit otherwise).
    """

    n_ages: int
    beta: float | None
    gamma: float
    alpha: float
    r: float
    mu_z: float = 0.0
    sigma_z: float = 0.0
    stock: bool = False
    hold_stock: bool = True
    mu_s: float = 0.0
    sigma_s: float = 0.0
    corr: float = 0.0
    profile: np.ndarray | None = None
    survival: np.ndarray | None = None
    wealth_1: float = 0.0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        n = check.scalar(self, "n_ages", ge=2, le=500, integer=True)
        if self.beta is not None:
            check.scalar(self, "beta", gt=0.0, lt=2.0)
        check.scalar(self, "gamma", gt=0.0, le=50.0)
        check.scalar(self, "alpha", gt=0.0, le=50.0)
        check.scalar(self, "r", gt=-1.0, lt=1.0)
        check.scalar(self, "mu_z", gt=-1.0, lt=1.0)
        check.scalar(self, "sigma_z", ge=0.0, le=2.0)
        for name in ("stock", "hold_stock"):
            value = getattr(self, name)
            check.require(isinstance(value, bool), name, "must be true or false", value)
        check.scalar(self, "mu_s", gt=-1.0, lt=1.0)
        check.scalar(self, "sigma_s", ge=0.0, le=2.0)
        check.scalar(self, "corr", ge=-1.0, le=1.0)
        check.scalar(self, "wealth_1", ge=0.0)
        shape = None if n is None else (n,)
        check.array(self, "profile", ndim=1, shape=shape, gt=0.0, optional=True)
        surv = check.array(self, "survival", ndim=1, shape=shape, ge=0.0, le=1.0, optional=True)
        if surv is not None and np.any(surv[:-1] == 0.0):
            check.fail("survival", "must be > 0 before the last age (use a shorter n_ages)",
                       Described(f"zero at index {int(np.argmin(surv[:-1]))}"))
        self._check_combinations(check)
        check.done()

    def _check_combinations(self, check: Checker) -> None:
        if self.stock is True:
            check.require(isinstance(self.sigma_s, float) and self.sigma_s > 0.0, "sigma_s",
                          "must be > 0 with stock=true (a riskless stock is a second bond)",
                          self.sigma_s)
        if self.beta is None:
            check.require(self.stock is not True, "beta",
                          "None (the section-2.4 restriction) needs stock=false",
                          Described("None with stock=true"))
        survival = self.survival
        if (isinstance(self.gamma, float) and self.gamma == 1.0
                and isinstance(survival, np.ndarray) and np.any(survival[:-1] != 1.0)):
            check.fail("survival", "must be ones when gamma = 1 (unit IES)",
                       Described(f"min {survival[:-1].min():g}"))
        if self.beta is None:
            for name, last in (("profile", None), ("survival", -1)):
                arr = getattr(self, name)
                arr = arr[:last] if isinstance(arr, np.ndarray) else arr
                if isinstance(arr, np.ndarray) and arr.size and np.any(arr != 1.0):
                    check.fail(name, "must be ones with beta=None (the section-2.4 restriction "
                               "is for a flat profile and no mortality)",
                               Described(f"min {arr.min():g}"))

    @property
    def earnings_profile(self) -> np.ndarray:
        """g_j for j = 1..n_ages: ``profile``, or ones when None."""
        return np.ones(self.n_ages) if self.profile is None else self.profile

    @property
    def survival_probs(self) -> np.ndarray:
        """psi_{j+1} for j = 1..n_ages: ``survival``, or ones when None."""
        return np.ones(self.n_ages) if self.survival is None else self.survival

    @property
    def beta_value(self) -> float:
        """beta, or the section-2.4 restriction's beta when ``beta`` is None."""
        if self.beta is not None:
            return float(self.beta)
        from .closed_form import beta_hand_to_mouth

        return beta_hand_to_mouth(self)

    @property
    def gross_r(self) -> float:
        return 1.0 + self.r


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """Grids of the backward induction.

    n_savings: points of the savings grid (normalised by current earnings scale);
    savings_max: its top, in units of the largest entry of ``profile``; curvature:
    the grid's power spacing (more points near zero). n_quad: Gauss-Hermite nodes per
    normal shock (earnings growth, stock return). share_tol: tolerance on the stock
    share's first-order condition root. n_sim, seed: simulated agents and the seed of
    the age profiles (``simulate.py``).
    """

    n_savings: int = 60
    savings_max: float = 30.0
    curvature: float = 2.0
    n_quad: int = 9
    share_tol: float = 1e-12
    max_share_iter: int = 200
    n_sim: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "n_savings", ge=3, le=5000, integer=True)
        check.scalar(self, "savings_max", gt=0.0)
        check.scalar(self, "curvature", ge=1.0, le=10.0)
        check.scalar(self, "n_quad", ge=1, le=60, integer=True)
        check.scalar(self, "share_tol", ge=1e-15, lt=1e-3)
        check.scalar(self, "max_share_iter", ge=10, integer=True)
        check.scalar(self, "n_sim", ge=1, le=10_000_000, integer=True)
        check.scalar(self, "seed", ge=0, integer=True)
        check.done()

