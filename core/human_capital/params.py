"""Parameters and numerics of the life-cycle economy that values human capital.

``Params``: the permanent-shock economy of Huggett and Kaplan (2015) section 2.4
extended with Epstein-Zin preferences, survival, a stock and borrowing (papers/004,
sections 2, 4 and 6): log earnings growth and the log stock return are iid jointly
normal. ``MarkovParams``: any finite chain of states (the form the section-4 process,
with VAR aggregates, skewed idiosyncratic shocks and retirement benefits, takes once
discretised; that calibration is later work).
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
    N(mu_s, sigma_s^2), correlated ``corr`` with eps; no short sales of the stock.
    ``hold_stock=False`` forces the stock share to zero while the stock still exists
    (it prices payoffs and the decomposition still projects on it). ``borrowing``: the
    bond may be held down to -borrowing times the current earnings scale z (0: no
    borrowing, the paper's benchmark; section 6 tries one times mean earnings and the
    natural limit), capped at 0.999 of the natural limit at each age
    (``shocks.borrowing_limits``; a large value gives the natural limit).
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
    borrowing: float = 0.0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        n = _check_preferences(check, self)
        check.scalar(self, "mu_z", gt=-1.0, lt=1.0)
        check.scalar(self, "sigma_z", ge=0.0, le=2.0)
        for name in ("stock", "hold_stock"):
            value = getattr(self, name)
            check.require(isinstance(value, bool), name, "must be true or false", value)
        check.scalar(self, "mu_s", gt=-1.0, lt=1.0)
        check.scalar(self, "sigma_s", ge=0.0, le=2.0)
        check.scalar(self, "corr", ge=-1.0, le=1.0)
        check.scalar(self, "wealth_1", ge=0.0)
        check.array(self, "profile", ndim=1, shape=None if n is None else (n,), gt=0.0,
                    optional=True)
        _check_survival(check, self, n)
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
        if self.beta is None:
            for name, last in (("profile", None), ("survival", -1)):
                arr = getattr(self, name)
                arr = arr[:last] if isinstance(arr, np.ndarray) else arr
                if isinstance(arr, np.ndarray) and arr.size and np.any(arr != 1.0):
                    check.fail(name, "must be ones with beta=None (the section-2.4 restriction "
                               "is for a flat profile and no mortality)",
                               Described(f"min {arr.min():g}"))
        if self.beta is None and not check.violations:
            implied = self.beta_value
            check.require(implied < 1.0, "beta", "None sets beta by the section-2.4 "
                          "restriction, which must give beta < 1 here",
                          Described(f"None, which gives {implied:.6g}"))

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


def _check_preferences(check: Checker, obj) -> int | None:
    """n_ages, beta, gamma, alpha, r: shared by both economies; returns n_ages if valid."""
    n = check.scalar(obj, "n_ages", ge=2, le=500, integer=True)
    check.scalar(obj, "borrowing", ge=0.0)
    if obj.beta is not None:  # the aggregator weighs consumption by 1 - beta
        check.scalar(obj, "beta", gt=0.0, lt=1.0)
    check.scalar(obj, "gamma", gt=0.0, le=50.0)
    check.scalar(obj, "alpha", gt=0.0, le=50.0)
    check.scalar(obj, "r", gt=-1.0, lt=1.0)
    return n


def _check_survival(check: Checker, obj, n: int | None) -> None:
    surv = check.array(obj, "survival", ndim=1, shape=None if n is None else (n,), ge=0.0,
                       le=1.0, optional=True)
    if surv is None:
        return
    if np.any(surv[:-1] == 0.0):
        check.fail("survival", "must be > 0 before the last age (use a shorter n_ages)",
                   Described(f"zero at index {int(np.argmin(surv[:-1]))}"))
    if isinstance(obj.gamma, float) and obj.gamma == 1.0 and np.any(surv[:-1] != 1.0):
        check.fail("survival", "must be ones when gamma = 1 (unit IES)",
                   Described(f"min {surv[:-1].min():g}"))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MarkovParams(Record):
    """A finite-state economy: the form the section-4 process takes once discretised.

    Preferences, ``r``, ``survival``, ``wealth_1`` and ``borrowing`` as in ``Params``
    (beta required).
    States s = 0..n-1 follow ``transition[s, s']`` (rows sum to one; age-invariant).
    ``growth[j-1, s']`` is the scale's growth f into age j in state s' (row 0 unused;
    ones in retirement, A.2.2), ``earnings[j-1, s]`` normalised earnings g_j(s) (> 0),
    ``stock_return[s']`` the gross stock return (None: no stock). Age 1 starts in
    ``initial_state`` with cash on hand g_1 (1 + wealth_1) over the scale z_1 = 1, or,
    with ``initial_dist`` (probabilities over states), in a state drawn from it with cash
    on hand g_1 + wealth_1 E[g_1] (the paper's initial wealth 0.3 E[e_1], Table 4); then
    ``initial_state`` is where the age-1 point values of ``moments()`` are read.
    """

    n_ages: int
    beta: float
    gamma: float
    alpha: float
    r: float
    transition: np.ndarray
    growth: np.ndarray
    earnings: np.ndarray
    stock_return: np.ndarray | None = None
    hold_stock: bool = True
    survival: np.ndarray | None = None
    initial_state: int = 0
    wealth_1: float = 0.0
    borrowing: float = 0.0
    initial_dist: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        n_age = _check_preferences(check, self)
        check.require(self.beta is not None, "beta", "is required (no closed-form rule here)")
        P = check.array(self, "transition", ndim=2, ge=0.0, le=1.0)
        n = None
        if P is not None:
            n = P.shape[0]
            if P.shape != (n, n):
                check.fail("transition", "must be square", Described(f"shape {P.shape}"))
            elif np.any(np.abs(P.sum(axis=1) - 1.0) > 1e-10):
                bad = int(np.argmax(np.abs(P.sum(axis=1) - 1.0)))
                check.fail(f"transition[{bad}]", "rows must sum to one", P[bad].sum())
        shape = None if n is None or n_age is None else (n_age, n)
        check.array(self, "growth", ndim=2, shape=shape, gt=0.0)
        check.array(self, "earnings", ndim=2, shape=shape, gt=0.0)
        check.array(self, "stock_return", ndim=1, shape=None if n is None else (n,), gt=0.0,
                    optional=True)
        check.require(isinstance(self.hold_stock, bool), "hold_stock", "must be true or false",
                      self.hold_stock)
        _check_survival(check, self, n_age)
        if n is not None:
            check.scalar(self, "initial_state", ge=0, le=n - 1, integer=True)
        dist = check.array(self, "initial_dist", ndim=1, shape=None if n is None else (n,),
                           ge=0.0, optional=True)
        if dist is not None and abs(dist.sum() - 1.0) > 1e-10:
            check.fail("initial_dist", "must sum to one", float(dist.sum()))
        check.scalar(self, "wealth_1", ge=0.0)
        check.done()

    @property
    def stock(self) -> bool:
        return self.stock_return is not None

    @property
    def survival_probs(self) -> np.ndarray:
        return np.ones(self.n_ages) if self.survival is None else self.survival

    @property
    def earnings_profile(self) -> np.ndarray:
        """Normalised earnings by age in the initial state (sets the savings grid's scale)."""
        return self.earnings[:, self.initial_state]

    @property
    def beta_value(self) -> float:
        return float(self.beta)

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
    share's first-order condition root. n_borrow: extra savings nodes below zero when
    borrowing is allowed. interpolation: of c, V and vhat between nodes, "pchip"
    (monotone cubic) or "linear". n_sim, seed: simulated agents and the seed of the age profiles
    (``simulate.py``). beta_lower, beta_upper, calibration_tol: where and how finely beta
    is sought when it is calibrated to a wealth-income ratio (``calibrate.calibrate_beta``;
    the benchmark's ``wealth_income_target``): the interval 0 < beta_lower < beta_upper < 1
    and the relative tolerance on the ratio.
    """

    n_savings: int = 60
    savings_max: float = 30.0
    curvature: float = 2.0
    n_quad: int = 9
    share_tol: float = 1e-12
    max_share_iter: int = 200
    n_borrow: int = 10
    interpolation: str = "pchip"
    n_sim: int = 1000
    seed: int = 0
    beta_lower: float = 0.8
    beta_upper: float = 0.995
    calibration_tol: float = 1e-4

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "n_savings", ge=3, le=5000, integer=True)
        check.scalar(self, "savings_max", gt=0.0)
        check.scalar(self, "curvature", ge=1.0, le=10.0)
        check.scalar(self, "n_quad", ge=1, le=60, integer=True)
        check.scalar(self, "share_tol", ge=1e-15, lt=1e-3)
        check.scalar(self, "max_share_iter", ge=10, integer=True)
        check.scalar(self, "n_borrow", ge=2, le=1000, integer=True)
        check.require(self.interpolation in ("pchip", "linear"), "interpolation",
                      "must be 'pchip' or 'linear'", self.interpolation)
        check.scalar(self, "n_sim", ge=1, le=10_000_000, integer=True)
        check.scalar(self, "seed", ge=0, integer=True)
        lo = check.scalar(self, "beta_lower", gt=0.0, lt=1.0)
        hi = check.scalar(self, "beta_upper", gt=0.0, lt=1.0)  # weight 1 - beta on c
        if lo is not None and hi is not None and not lo < hi:
            check.fail("beta_upper", f"must be > beta_lower ({lo:g})", hi)
        check.scalar(self, "calibration_tol", ge=1e-10, le=0.1)
        check.done()

