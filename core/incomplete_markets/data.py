"""Observed spatial data for calibrating the spatial closure (DESIGN.md section 6).

``SpatialData`` holds, for J locations:

- trade (J, J): value of goods made in i and sold in j, trade[i, j] = x_ij (B.1);
- migration (J, J): migration[i, j] = share of i's residents living in j one
  period later (rows sum to one, B.10);
- population (J,): residents (any units; calibration uses shares);
- wage (J,): nominal wage per efficiency unit of labour (output per worker with
  one income state);
- price_index (J,): P_j, in the same currency as wage;
- transfers (J,): net government transfer per resident, T_j;
- labour (J,): effective labour H_j (default: population).

Accounting checked at construction: output sum_j trade[i, j] = wage_i labour_i
(no profits under CES with constant returns, B.1), and the government budget
sum_j population_j transfers_j = 0 (eq. 47 per capita), both to ``rtol``.

Tidy files: two bilateral tables (columns origin, destination, value) and a
location table (columns location, population, wage, price_index, transfers and
optionally labour), CSV or Parquet by file extension. Locations are ordered as
in the location table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import write_frame
from ..errors import Described, InvalidConfigError, Violation
from ..protocol import Record
from ..validation import Checker
from .goods import price_index

if TYPE_CHECKING:  # pandas is imported where tables are read or written: a model solved
    import pandas as pd  # in a sweep's actor never needs it (about 0.5 s of its start-up)

SYNTHETIC = "synthetic_us48"
_LOCATION_COLUMNS = ("population", "wage", "price_index", "transfers")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SpatialData(Record):
    """Validated spatial data; see the module docstring for fields and units."""

    trade: np.ndarray
    migration: np.ndarray
    population: np.ndarray
    wage: np.ndarray
    price_index: np.ndarray
    transfers: np.ndarray
    labour: np.ndarray | None = None
    names: tuple[str, ...] | None = None
    rtol: float = 1e-6

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "rtol", gt=0.0)
        trade = check.array(self, "trade", ndim=2, ge=0.0)
        J = None if trade is None else trade.shape[0]
        sq, vec = (None, None) if J is None else ((J, J), (J,))
        if trade is not None:
            check.require(trade.shape == (J, J), "trade", "must be square (J, J)",
                          Described(f"shape {trade.shape}"))
        mig = check.array(self, "migration", ndim=2, shape=sq, ge=0.0)
        pop = check.array(self, "population", ndim=1, shape=vec, gt=0.0)
        wage = check.array(self, "wage", ndim=1, shape=vec, gt=0.0)
        check.array(self, "price_index", ndim=1, shape=vec, gt=0.0)
        T = check.array(self, "transfers", ndim=1, shape=vec)
        if self.labour is None and pop is not None:
            object.__setattr__(self, "labour", pop)
        lab = check.array(self, "labour", ndim=1, shape=vec, gt=0.0)
        if self.names is not None:
            object.__setattr__(self, "names", tuple(str(n) for n in self.names))
            check.require(len(self.names) == (J or 0), "names", f"must have {J} entries",
                          len(self.names))
        if check.violations:
            check.done()
        _check_flows(check, trade, mig)
        _check_accounting(check, trade, wage, lab, pop, T, self.rtol)
        check.done()

    @property
    def n_loc(self) -> int:
        return int(self.trade.shape[0])

    def normalised_prices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, P, T) in units of location 0's wage (the model's numeraire w_1 = 1)."""
        unit = self.wage[0]
        return self.wage / unit, self.price_index / unit, self.transfers / unit

    @classmethod
    def from_solution(cls, sol, names=None) -> SpatialData:
        """The data a spatial-closure steady state generates (model units, w[0] = 1)."""
        p = sol.params
        L, H, E = sol.location_aggregates()
        _, lam = price_index(p.A, sol.w, L, p.sigma_trade, p.alpha_agg)
        return cls(trade=lam * E[None, :], migration=sol.migration_matrix(), population=L,
                   wage=np.array(sol.w), price_index=np.array(sol.P), transfers=np.array(sol.T),
                   labour=H, names=names)

    @classmethod
    def from_tidy(cls, trade, migration, locations, **kw) -> SpatialData:
        """Build from tidy tables (DataFrames or CSV/Parquet paths); see the module docstring."""
        loc = _read(locations)
        missing = [c for c in ("location", *_LOCATION_COLUMNS) if c not in loc.columns]
        if missing:
            raise InvalidConfigError(str(locations), [Violation(
                "columns", f"missing {missing}", Described(str(list(loc.columns))))])
        names = [str(n) for n in loc["location"]]
        fields = {c: loc[c].to_numpy(dtype=float) for c in _LOCATION_COLUMNS}
        if "labour" in loc.columns:
            fields["labour"] = loc["labour"].to_numpy(dtype=float)
        return cls(trade=_matrix(trade, names), migration=_matrix(migration, names),
                   names=tuple(names), **fields, **kw)

    def to_tidy(self, directory, fmt: str = "csv") -> dict[str, Path]:
        """Write trade, migration and locations tables (atomically) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        import pandas as pd

        names = list(self.names or (str(i) for i in range(self.n_loc)))
        loc = pd.DataFrame({"location": names, **{c: getattr(self, c) for c in
                                                  (*_LOCATION_COLUMNS, "labour")}})
        tables = {"trade": _tidy(self.trade, names), "migration": _tidy(self.migration, names),
                  "locations": loc}
        paths = {}
        for key, frame in tables.items():
            paths[key] = directory / f"{key}.{fmt}"
            write_frame(frame, paths[key], fmt)
        return paths


def load_synthetic() -> tuple[SpatialData, dict]:
    """The shipped synthetic 48-location dataset and its generating fundamentals.

    Generated by this model (scripts/generate_spatial_synthetic.py); the
    fundamentals dict holds the spatial Params fields, the Numerics fields and
    the equilibrium r and mpc_mean (the calibration targets). Synthetic: not US data.
    """
    root = resources.files("hetspace.core.incomplete_markets") / "data" / SYNTHETIC
    with resources.as_file(root) as path:
        data = SpatialData.from_tidy(path / "trade.csv", path / "migration.csv",
                                     path / "locations.csv")
        fundamentals = json.loads((path / "fundamentals.json").read_text())
    return data, fundamentals


def _check_flows(check: Checker, trade: np.ndarray, mig: np.ndarray) -> None:
    bad = np.flatnonzero(np.diag(trade) <= 0.0)
    check.require(bad.size == 0, f"trade[{bad[0]}, {bad[0]}]" if bad.size else "trade",
                  "own trade (diagonal) must be > 0", 0.0)
    rows = mig.sum(axis=1)
    bad = np.flatnonzero(np.abs(rows - 1.0) > 1e-8)
    check.require(bad.size == 0, f"migration[{bad[0]}, :]" if bad.size else "migration",
                  "rows must sum to one", float(rows[bad[0]]) if bad.size else None)


def _check_accounting(check, trade, wage, lab, pop, T, rtol) -> None:
    output = trade.sum(axis=1)
    gap = np.abs(output - wage * lab) / output
    bad = np.flatnonzero(gap > rtol)
    check.require(bad.size == 0, f"trade[{bad[0]}, :]" if bad.size else "trade",
                  f"output (row sum) must equal wage * labour to rtol={rtol:g}"
                  + (f" (relative gap {gap[bad[0]]:.3g})" if bad.size else ""),
                  float(output[bad[0]]) if bad.size else None)
    budget = float(pop @ T)
    scale = float(pop @ np.abs(T)) + 1e-300
    check.require(abs(budget) <= rtol * scale, "transfers",
                  f"government budget sum population * transfers must be 0 to rtol={rtol:g}",
                  budget)


def _read(source) -> pd.DataFrame:
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _matrix(source, names: list[str]) -> np.ndarray:
    import pandas as pd

    frame = _read(source)
    missing = [c for c in ("origin", "destination", "value") if c not in frame.columns]
    seen = set(map(str, frame.get("origin", []))) | set(map(str, frame.get("destination", [])))
    unknown = sorted(seen - set(names))
    if missing or unknown:
        where = "table" if isinstance(source, pd.DataFrame) else str(source)
        problem = (Violation("columns", f"missing {missing}", Described(str(list(frame.columns))))
                   if missing else
                   Violation("origin/destination", "locations not in the location table",
                             Described(str(unknown))))
        raise InvalidConfigError(where, [problem])
    pos = {n: i for i, n in enumerate(names)}
    out = np.zeros((len(names), len(names)))
    out[[pos[str(o)] for o in frame["origin"]],
        [pos[str(d)] for d in frame["destination"]]] = frame["value"].to_numpy(dtype=float)
    return out


def _tidy(matrix: np.ndarray, names: list[str]) -> pd.DataFrame:
    import pandas as pd

    J = len(names)
    return pd.DataFrame({"origin": np.repeat(names, J), "destination": np.tile(names, J),
                         "value": matrix.ravel()})


