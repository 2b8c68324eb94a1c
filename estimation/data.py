"""Household panel data: the file schema, reading and writing, data statistics and their
covariance (the ``targets.panel`` source of an estimation spec).

A data panel is a tidy table, one row per household and period, in CSV or
Parquet (by extension: ``.csv``, ``.parquet``):

=========== =========== =====================================================================
column      type        meaning
=========== =========== =====================================================================
household   int or str  household identifier
period      int         consecutive integers; every household observed in every period
location    int >= 0    location index j (0 in a one-location economy)
income      real        labour income w_j e_s (model units; logs are taken where used)
assets      real        assets at the start of the period
consumption real > 0    real consumption
at_limit    bool (0/1)  savings this period at the borrowing limit; needed only by
                        statistics that read it (``panel_moments``; ``STATISTIC_COLUMNS``)
=========== =========== =====================================================================

Extra columns are ignored. The panel must be balanced with at least
``MIN_PERIODS`` periods and ``MIN_HOUSEHOLDS`` households; it is read into
:class:`~hetspace.estimation.objective.PanelArrays` (axes (periods, households),
households in the order of their sorted ids), on which the statistics functions
of ``STATISTICS`` run exactly as on simulated panels. ``write_panel`` writes a
simulated panel in this schema (household ids 0..H-1, periods 0..T-1), and
reading it back gives bit-identical arrays (CSV floats are written with 17
significant digits). Problems are raised together as one ``PanelError`` naming
the file, the column and the first offending line (CSV, counting the header as
line 1) or row (Parquet, from 0).

Covariance of the data statistics (``bootstrap_covariance``): a household
(cluster) bootstrap. Each of ``n_boot`` replicates draws H households with
replacement, keeping each household's whole history, and recomputes the
statistics; Omega is the covariance of the replicates (ddof 1). Resampling whole
histories keeps the serial dependence of each household (assets are very
persistent), which an observation-level bootstrap would wipe out; it assumes
households are independent, as in the model. Omega estimates the variance of
the statistics at the data's sample size (what ``inference`` expects). Fixed
``seed``: the same file always gives the same Omega.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hetspace.core.config import write_frame
from hetspace.core.errors import InvalidConfigError

from .objective import STATISTIC_COLUMNS, STATISTICS, PanelArrays

REQUIRED_COLUMNS = ("household", "period", "location", "income", "assets", "consumption")
MIN_PERIODS = 3
MIN_HOUSEHOLDS = 2
DEFAULT_BOOTSTRAP = 500
_REAL = ("income", "assets", "consumption")


class PanelError(InvalidConfigError):
    """A data panel file is missing, unreadable or violates the schema; ``problems`` lists all."""


def read_panel(path: str | os.PathLike[str], statistics: str | None = None) -> PanelArrays:
    """The panel in ``path`` (schema in the module docstring); the columns read by
    ``statistics`` (a STATISTICS name) are required too."""
    path = Path(path)
    frame = _read(path)
    extra = () if statistics is None else STATISTIC_COLUMNS[statistics]
    needed = (*REQUIRED_COLUMNS, *(c for c in extra if c not in REQUIRED_COLUMNS))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        why = ("" if set(missing) <= set(REQUIRED_COLUMNS)
               else f" (statistics {statistics} reads {list(extra)})")
        raise PanelError(str(path), [f"missing column(s) {missing}{why}; the file has "
                                     f"columns {list(frame.columns)}"])
    if frame.empty:
        raise PanelError(str(path), [f"has no rows (only the header: {list(frame.columns)})"])
    where = _Locate(path)
    checked = (*needed, *(("at_limit",) if "at_limit" in frame.columns
                          and "at_limit" not in needed else ()))
    problems = [p for c in checked if (p := _check_column(frame, c, where)) is not None]
    if not problems:
        problems = _check_shape(frame, where)
    if problems:
        raise PanelError(str(path), problems)
    return _arrays(frame)


def write_panel(panel: PanelArrays, path: str | os.PathLike[str]) -> Path:
    """Write ``panel`` (with its location) in the schema above, atomically; CSV or Parquet."""
    path = Path(path)
    fmt = path.suffix.lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"{path}: the extension must be .csv or .parquet")
    write_frame(panel_frame(panel), path, fmt)
    return path


def panel_frame(panel: PanelArrays) -> pd.DataFrame:
    """The tidy table of a panel: rows ordered by period, then household (ids 0..H-1)."""
    if panel.location is None:
        raise ValueError("the panel has no location; the schema requires one")
    T, H = panel.consumption.shape
    return pd.DataFrame({
        "household": np.tile(np.arange(H), T), "period": np.repeat(np.arange(T), H),
        "location": np.asarray(panel.location, dtype=np.int64).ravel(),
        "income": np.asarray(panel.income, dtype=float).ravel(),
        "assets": np.asarray(panel.assets, dtype=float).ravel(),
        "consumption": np.asarray(panel.consumption, dtype=float).ravel(),
        "at_limit": np.asarray(panel.at_limit, dtype=bool).ravel()})


def data_statistics(panel: PanelArrays, statistics: str) -> dict[str, float]:
    """STATISTICS[statistics] on a data panel (the function applied to simulated panels)."""
    return {k: float(v) for k, v in STATISTICS[statistics](panel).items()}


def bootstrap_covariance(panel: PanelArrays, statistics: str, names: Sequence[str],
                         n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """(k, k) household-cluster bootstrap covariance of the statistics ``names`` (module
    docstring): ``n_boot`` resamples of whole household histories drawn with ``seed``."""
    fn = STATISTICS[statistics]
    rng = np.random.default_rng(seed)
    H = panel.consumption.shape[1]
    rows = np.empty((n_boot, len(names)))
    for b in range(n_boot):
        stats = fn(_households(panel, rng.integers(0, H, size=H)))
        rows[b] = [stats[n] for n in names]
    return np.atleast_2d(np.cov(rows, rowvar=False))


def _households(panel: PanelArrays, pick: np.ndarray) -> PanelArrays:
    return PanelArrays(**{f.name: None if getattr(panel, f.name) is None
                          else getattr(panel, f.name)[:, pick]
                          for f in dataclasses.fields(PanelArrays)})


class _Locate:
    """'line N' (CSV, header = line 1) or 'row N' (Parquet, from 0) of data row i."""

    def __init__(self, path: Path):
        self.csv = path.suffix == ".csv"

    def __call__(self, i: int) -> str:
        return f"line {i + 2}" if self.csv else f"row {i}"


def _read(path: Path) -> pd.DataFrame:
    if path.suffix not in (".csv", ".parquet"):
        raise PanelError(str(path), ["unknown format: the file must end in .csv or .parquet"])
    if not path.is_file():
        raise PanelError(str(path), ["no such file"])
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, TypeError) as e:
        kind = path.suffix.lstrip(".").upper()
        text = " ".join(str(e).split())
        raise PanelError(str(path), [f"cannot be read as {kind}: {type(e).__name__}: "
                                     f"{text}"]) from e


def _check_column(frame: pd.DataFrame, col: str, where: _Locate) -> str | None:
    """The first problem of one column (type, missing values, range), or None."""
    x = frame[col]
    if x.isna().any():
        return f"column {col}: missing value at {where(int(np.flatnonzero(x.isna())[0]))}"
    kind, ok = _kind(col, x)
    if not ok:
        return f"column {col}: must hold {kind}, got dtype {x.dtype}"
    values = x.to_numpy()
    if col in _REAL:
        bad = ~np.isfinite(values.astype(float))
        bad |= values <= 0 if col == "consumption" else False
    elif col == "location":
        bad = values < 0
    elif col == "at_limit":
        bad = ~np.isin(values, (0, 1))
    else:
        return None
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return f"column {col}: must be {_RANGE[col]}, got {_plain(values[i])!r} at {where(i)}"
    return None


_RANGE = {"location": ">= 0", "consumption": "finite and > 0", "at_limit": "true/false (or 1/0)",
          "income": "finite", "assets": "finite"}


def _kind(col: str, x: pd.Series) -> tuple[str, bool]:
    is_int = pd.api.types.is_integer_dtype(x) and not pd.api.types.is_bool_dtype(x)
    if col == "household":
        strings = pd.api.types.is_string_dtype(x) and all(isinstance(v, str) for v in x)
        return "integers or strings", is_int or strings
    if col in ("period", "location"):
        return "integers", is_int
    if col == "at_limit":
        return "booleans (true/false or 1/0)", pd.api.types.is_bool_dtype(x) or is_int
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    return "real numbers", numeric


def _check_shape(frame: pd.DataFrame, where: _Locate) -> list[str]:
    """Unique (household, period) rows, consecutive periods, a balanced panel, enough of it."""
    dup = frame.duplicated(["household", "period"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        return [f"household {_plain(frame['household'].iloc[i])!r} appears twice in period "
                f"{frame['period'].iloc[i]} (second time at {where(i)})"]
    periods = np.unique(frame["period"].to_numpy())
    households = frame["household"].nunique()
    problems = []
    gaps = np.flatnonzero(np.diff(periods) != 1)
    if gaps.size:
        problems.append(f"column period: periods must be consecutive integers; "
                        f"{periods[gaps[0]]} is followed by {periods[gaps[0] + 1]}")
    if periods.size < MIN_PERIODS:
        problems.append(f"too few periods: {periods.size} (the statistics need at least "
                        f"{MIN_PERIODS})")
    if households < MIN_HOUSEHOLDS:
        problems.append(f"too few households: {households} (at least {MIN_HOUSEHOLDS})")
    counts = frame.groupby("household")["period"].size()
    short = counts[counts < periods.size]
    if short.size:
        problems.append(f"unbalanced panel: household {_plain(short.index[0])!r} is observed in "
                        f"{int(short.iloc[0])} of the {periods.size} periods (every household "
                        f"must be observed in every period; {short.size} are not)")
    return problems


def _plain(value):
    """A numpy scalar as the Python value (so messages show 5, not np.int64(5))."""
    return value.item() if isinstance(value, np.generic) else value


def _arrays(frame: pd.DataFrame) -> PanelArrays:
    frame = frame.sort_values(["period", "household"], kind="stable")
    T = frame["period"].nunique()
    H = len(frame) // T

    def grid(col: str, dtype) -> np.ndarray | None:
        if col not in frame.columns:
            return None
        out = np.ascontiguousarray(frame[col].to_numpy(dtype=dtype).reshape(T, H))
        out.setflags(write=False)
        return out

    return PanelArrays(consumption=grid("consumption", float), income=grid("income", float),
                       assets=grid("assets", float), at_limit=grid("at_limit", bool),
                       location=grid("location", np.int64))
