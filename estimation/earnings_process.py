"""GMM of the Huggett-Kaplan earnings process from autocovariances of a household panel.

Huggett and Kaplan (2015, papers/004), section 3.1 and appendix A.3: log earnings net of
age and year effects are u_{i,t} = xi_i + zeta_{i,t} + v_{i,t}, with the fixed effect
xi ~ (0, s_xi^2), the persistent zeta_{i,t} = rho zeta_{i,t-1} + eta_{i,t} from zeta = 0
before the household's first working year (zeta_1 = eta_1), innovations whose variance
depends on the year's aggregate regime (s_eta^2 in booms and in recessions), and an iid
transitory v ~ (0, s_v^2). Then, for a household that entered in year e,

    Var zeta_t = sum_{k=0}^{t-e} rho^(2k) s_eta^2(X_{t-k}),
    E[u_t u_{t+l}] = s_xi^2 + rho^l Var zeta_t + 1{l = 0} s_v^2.

The moments are the means of u_t u_{t+l} over the households observed in years t and
t + l whose years since entry at t fall in one 5-year age cell, as the paper's (a cell
per year, lag l = 0..max_lag and age cell, with at least 30 households); the model's
are the same formula averaged over the same households. GMM weights each cell by its
share of households (the paper weights by n^.5) and minimises with scipy's least
squares; standard errors are the sandwich of ``inference.sandwich`` with Omega the
covariance of the households' contributions (households independent).

Simplifications against the paper, stated: ages are years since entry (no age
polynomial to remove); third moments and hence the shocks' skewness are not estimated (the
simulated panel may be skewed: the second moments do not depend on it); no trend in the
variances; s_v^2 does not vary with age.

A user's panel comes from two tidy files (CSV or Parquet), read and validated by
``read_earnings_panel``: the panel (columns household, year, u, entry_year: the
residual log earnings and the household's first working year) and the regimes (columns
year, boom: every year from the first entry year to the last observed one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from hetspace.core.errors import Described, SolverConvergenceError
from hetspace.core.human_capital.benchmark import TABLE_1
from hetspace.core.numerics.skewed import GeneralizedNormal
from hetspace.core.protocol import Record, readonly
from hetspace.core.validation import Checker

from .data import PanelError
from .inference import sandwich

#: Estimated parameters, in this order.
NAMES = ("s_xi2", "rho", "s_eta2_boom", "s_eta2_recession", "s_v2")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class EarningsProcess(Record):
    """The process's variances and persistence (Table 1's symbols); the third moments
    mu3_* only shape simulated panels (GMM here uses second moments)."""

    s_xi2: float
    rho: float
    s_eta2_boom: float
    s_eta2_recession: float
    s_v2: float
    mu3_eta_boom: float = 0.0
    mu3_eta_recession: float = 0.0
    mu3_v: float = 0.0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "s_xi2", ge=0.0, le=10.0)
        check.scalar(self, "rho", ge=0.0, lt=1.0)
        for name in ("s_eta2_boom", "s_eta2_recession", "s_v2"):
            check.scalar(self, name, gt=0.0, le=10.0)
        for name in ("mu3_eta_boom", "mu3_eta_recession", "mu3_v"):
            check.scalar(self, name)
        check.done()

    @classmethod
    def from_table_1(cls, sample: str = "full") -> EarningsProcess:
        """Table 1 of papers/004 (trends dropped; s_v^2, mu3_v their age averages)."""
        s_xi2, rho, sb, sr, mb, mr, s_v2, m3_v = TABLE_1[sample]
        return cls(s_xi2=s_xi2, rho=rho, s_eta2_boom=sb, s_eta2_recession=sr, s_v2=s_v2,
                   mu3_eta_boom=mb, mu3_eta_recession=mr, mu3_v=m3_v)

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, n) for n in NAMES])


#: The estimator's first guess when none is given.
DEFAULT_START = EarningsProcess(s_xi2=0.1, rho=0.9, s_eta2_boom=0.05, s_eta2_recession=0.05,
                                s_v2=0.1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EarningsPanel:
    """u: (households, years) log earnings residuals, NaN where not observed; entry:
    (households,) the year index of each household's first working year (age 1);
    boom: (years,) True in boom years (X_t = 1{Delta u_t > 0}). Observations only at or
    after entry. Build with ``make_panel`` (validates)."""

    u: np.ndarray
    entry: np.ndarray
    boom: np.ndarray


def make_panel(u, entry, boom) -> EarningsPanel:
    """A validated ``EarningsPanel``; raises ``InvalidParamsError`` naming each problem."""
    check = Checker("EarningsPanel")
    u = np.asarray(u, dtype=float)
    entry = np.asarray(entry)
    boom = np.asarray(boom)
    if u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 2:
        check.fail("u", "must be a 2-d array (households, years), at least 2 x 2",
                   Described(f"shape {u.shape}"))
    elif np.isinf(u).any():
        check.fail("u", "must be finite or NaN (not observed)", Described("inf"))
    n, years = (u.shape if u.ndim == 2 else (None, None))
    if entry.ndim != 1 or (n is not None and entry.size != n) \
            or not np.issubdtype(entry.dtype, np.integer):
        check.fail("entry", f"must be {n} integer year indices, one per household",
                   Described(f"{entry.dtype} shape {entry.shape}"))
    elif years is not None and (entry.min() < 0 or entry.max() >= years):
        check.fail("entry", f"must be year indices in [0, {years - 1}]",
                   Described(f"range [{entry.min()}, {entry.max()}]"))
    elif u.ndim == 2 and np.any(np.isfinite(u) & (np.arange(years)[None, :] < entry[:, None])):
        check.fail("u", "is observed before a household's entry year", Described("some rows"))
    if boom.ndim != 1 or (years is not None and boom.size != years) or boom.dtype != bool:
        check.fail("boom", f"must be {years} booleans, one per year",
                   Described(f"{boom.dtype} shape {boom.shape}"))
    check.done()
    return EarningsPanel(u=readonly(u), entry=_frozen(entry.astype(np.int64)),
                         boom=_frozen(boom.copy()))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


def simulate_earnings_panel(process: EarningsProcess, n_households: int, n_years: int,
                            seed: int, work_years: int = 39, p_boom: float = 0.5
                            ) -> EarningsPanel:
    """A panel observed for the last ``n_years`` of a history long enough for every
    household in it to have entered: entry years uniform over the history, households
    observed while within ``work_years`` of entry (the paper: ages 22-60), regimes iid
    with probability ``p_boom``; generalised-normal eta and v with the process's moments."""
    rng = np.random.default_rng(seed)
    years = n_years + work_years - 1
    boom = rng.random(years) < p_boom
    entry = rng.integers(0, years, size=n_households)
    eta = {b: GeneralizedNormal.from_moments(0.0, *m) for b, m in (
        (True, (process.s_eta2_boom, process.mu3_eta_boom)),
        (False, (process.s_eta2_recession, process.mu3_eta_recession)))}
    v_dist = GeneralizedNormal.from_moments(0.0, process.s_v2, process.mu3_v)
    xi = np.sqrt(process.s_xi2) * rng.standard_normal(n_households)
    shocks = rng.random((n_households, years))
    u = np.full((n_households, years), np.nan)
    zeta = np.zeros(n_households)
    first = years - n_years
    for t in range(years):
        draw = eta[bool(boom[t])].ppf(shocks[:, t])
        zeta = np.where(t >= entry, process.rho * zeta + draw, 0.0)
        working = (t >= entry) & (t < entry + work_years)
        if t >= first:
            v = v_dist.ppf(rng.random(n_households))
            u[:, t] = np.where(working, xi + zeta + v, np.nan)
    return make_panel(u, entry, boom)


@dataclass(frozen=True, slots=True)
class _Cells:
    """The (year, lag, age) cells: year (c,), lag (c,), count (c,), data moment (c,), the
    households' entry-year shares per cell (c, years), member (households, c) bool and
    the products u_t u_{t+l} (households, c; 0 outside)."""

    year: np.ndarray
    lag: np.ndarray
    count: np.ndarray
    data: np.ndarray
    shares: np.ndarray
    member: np.ndarray
    products: np.ndarray


def autocovariance_cells(panel: EarningsPanel, max_lag: int, min_count: int = 30,
                         age_width: int = 5) -> _Cells:
    """Data moments by (year t, lag l, age cell): means of u_t u_{t+l} over households
    observed in both years whose years since entry at t fall in the same ``age_width``-year
    cell (the paper: 5-year age cells), cells with at least ``min_count`` households (the
    paper: 30). Age cells separate the fixed effect (flat in age) from the persistent
    component (its variance grows with age)."""
    u, entry = panel.u, panel.entry
    years = u.shape[1]
    seen = np.isfinite(u)
    age_cell = (np.arange(years)[None, :] - entry[:, None]) // age_width
    rows = []
    for t in range(years):
        for lag in range(max_lag + 1):
            if t + lag >= years:
                break
            both = seen[:, t] & seen[:, t + lag]
            for cell in np.unique(age_cell[both, t]):
                inside = both & (age_cell[:, t] == cell)
                if inside.sum() >= min_count:
                    rows.append((t, lag, inside,
                                 np.where(inside, u[:, t] * u[:, t + lag], 0.0)))
    if not rows:
        raise SolverConvergenceError(f"earnings GMM: no (year, lag) cell has {min_count} "
                                     "households", residuals={})
    member = np.stack([r[2] for r in rows], axis=1)
    products = np.stack([r[3] for r in rows], axis=1)
    count = member.sum(axis=0)
    onehot = np.eye(years)[entry]  # (households, years)
    shares = (member.T.astype(float) @ onehot) / count[:, None]
    return _Cells(year=np.array([r[0] for r in rows]), lag=np.array([r[1] for r in rows]),
                  count=count, data=products.sum(axis=0) / count, shares=shares,
                  member=member, products=products)


def zeta_variance(theta: np.ndarray, boom: np.ndarray) -> np.ndarray:
    """V[e, t] = Var zeta_t of a household entered in year e (0 for t < e): the recursion
    V[e, t] = rho^2 V[e, t-1] + s_eta^2(X_t) from V[e, e-1] = 0."""
    rho = theta[1]
    s2 = np.where(boom, theta[2], theta[3])
    years = boom.size
    V = np.zeros((years, years))
    for t in range(years):
        prev = V[:, t - 1] if t else np.zeros(years)
        V[:, t] = np.where(np.arange(years) <= t, rho * rho * prev + s2[t], 0.0)
    return V


def model_moments(theta: np.ndarray, cells: _Cells, boom: np.ndarray) -> np.ndarray:
    """E[u_t u_{t+l}] averaged over each cell's households (module docstring)."""
    V = zeta_variance(theta, boom)
    mean_var = np.einsum("ce,ec->c", cells.shares, V[:, cells.year])
    return theta[0] + theta[1] ** cells.lag * mean_var + (cells.lag == 0) * theta[4]


@dataclass(frozen=True, slots=True, kw_only=True)
class EarningsGMM:
    """Estimates and standard errors by name (``NAMES``), the number of moments, the
    weighted objective at the estimate, and whether least squares converged."""

    estimates: dict
    se: dict
    n_moments: int
    objective: float
    converged: bool


def estimate_earnings_process(panel: EarningsPanel, max_lag: int = 5, min_count: int = 30,
                              start: EarningsProcess | None = None) -> EarningsGMM:
    """GMM of (s_xi^2, rho, s_eta^2 booms and recessions, s_v^2) on ``panel``'s
    autocovariances up to ``max_lag`` (module docstring)."""
    cells = autocovariance_cells(panel, max_lag, min_count)
    n = panel.u.shape[0]
    w = cells.count / n
    x0 = (start or DEFAULT_START).vector()

    def resid(theta):
        return np.sqrt(w) * (cells.data - model_moments(theta, cells, panel.boom))

    lower = np.array([0.0, 0.0, 1e-8, 1e-8, 1e-8])
    upper = np.array([10.0, 0.999, 10.0, 10.0, 10.0])
    fit = least_squares(resid, x0, bounds=(lower, upper), jac="3-point", x_scale="jac",
                        xtol=1e-12, ftol=1e-12, gtol=1e-12)
    G = -fit.jac / np.sqrt(w)[:, None]  # d (data - model) / d theta
    se = np.sqrt(np.diag(sandwich(G, np.diag(w), _omega(fit.x, cells, panel, n))))
    return EarningsGMM(estimates=dict(zip(NAMES, map(float, fit.x), strict=True)),
                       se=dict(zip(NAMES, map(float, se), strict=True)),
                       n_moments=int(cells.data.size), objective=float(2.0 * fit.cost),
                       converged=bool(fit.success))


def _omega(theta: np.ndarray, cells: _Cells, panel: EarningsPanel, n: int) -> np.ndarray:
    """Covariance of the moment gap: households' contributions h_i = (n / n_c) 1{i in c}
    (u_t u_{t+l} - model_i) are independent with mean zero, g = mean_i h_i."""
    V = zeta_variance(theta, panel.boom)
    own = V[panel.entry][:, cells.year]  # (households, cells)
    model_i = theta[0] + theta[1] ** cells.lag * own + (cells.lag == 0) * theta[4]
    h = np.where(cells.member, cells.products - model_i, 0.0) * (n / cells.count)
    return h.T @ h / n**2


PANEL_COLUMNS = ("household", "year", "u", "entry_year")
REGIME_COLUMNS = ("year", "boom")


def read_earnings_panel(panel_path: str | os.PathLike[str],
                        regimes_path: str | os.PathLike[str]) -> EarningsPanel:
    """The panel and regime files (module docstring) as an ``EarningsPanel``; raises
    ``PanelError`` naming the file and every problem found."""
    frame = _read_table(Path(panel_path), PANEL_COLUMNS)
    regimes = _read_table(Path(regimes_path), REGIME_COLUMNS)
    problems = []
    for col in ("household", "year", "entry_year"):
        if not pd.api.types.is_integer_dtype(frame[col]):
            problems.append(f"column {col}: must hold integers, got dtype {frame[col].dtype}")
    if not pd.api.types.is_numeric_dtype(frame["u"]) or not np.isfinite(frame["u"]).all():
        problems.append("column u: must hold finite real numbers")
    if problems:
        raise PanelError(str(panel_path), problems)
    if frame.duplicated(["household", "year"]).any():
        problems.append("a (household, year) pair appears twice")
    if (frame.groupby("household")["entry_year"].nunique() > 1).any():
        problems.append("column entry_year: must be the same in every row of a household")
    if (frame["year"] < frame["entry_year"]).any():
        problems.append("a household is observed before its entry_year")
    if problems:
        raise PanelError(str(panel_path), problems)
    first, last = int(frame["entry_year"].min()), int(frame["year"].max())
    boom = _regime_years(regimes, first, last, str(regimes_path))
    codes, households = pd.factorize(frame["household"])
    u = np.full((households.size, last - first + 1), np.nan)
    u[codes, frame["year"].to_numpy() - first] = frame["u"].to_numpy(dtype=float)
    entry = np.zeros(households.size, dtype=np.int64)
    entry[codes] = frame["entry_year"].to_numpy() - first
    return make_panel(u, entry, boom)


def _read_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if path.suffix not in (".csv", ".parquet"):
        raise PanelError(str(path), ["unknown format: the file must end in .csv or .parquet"])
    if not path.is_file():
        raise PanelError(str(path), ["no such file"])
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, TypeError) as e:
        raise PanelError(str(path), [f"cannot be read: {type(e).__name__}: {e}"]) from e
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PanelError(str(path), [f"missing column(s) {missing}; the file has columns "
                                     f"{list(frame.columns)}"])
    if frame.empty or frame[list(columns)].isna().any().any():
        raise PanelError(str(path), ["has no rows or a missing value"])
    return frame


def _regime_years(regimes: pd.DataFrame, first: int, last: int, where: str) -> np.ndarray:
    """boom for the years first..last, each exactly once (booleans or 0/1)."""
    flags = regimes["boom"]
    if not (pd.api.types.is_bool_dtype(flags) or flags.isin((0, 1)).all()):
        raise PanelError(where, ["column boom: must hold true/false (or 1/0)"])
    by_year = regimes.groupby("year")["boom"]
    if (by_year.size() > 1).any():
        raise PanelError(where, ["a year appears twice"])
    missing = sorted(set(range(first, last + 1)) - set(regimes["year"].tolist()))
    if missing:
        raise PanelError(where, [f"no regime for year(s) {missing[:5]} (needed from the "
                                 f"first entry year {first} to the last year {last})"])
    table = dict(zip(regimes["year"].tolist(), flags.astype(bool).tolist(), strict=True))
    return np.array([table[y] for y in range(first, last + 1)])
