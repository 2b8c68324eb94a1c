"""Location-level moments computed by one function from observed data and from the model.

``location_moments`` maps four (J,) location arrays to the scalar moments
below. Both sides of an estimation call it: ``spatial_data_moments`` on a
:class:`~hetspace.core.incomplete_markets.SpatialData` (the data) and
``solution_location_moments`` on a solved steady state (the model; the
estimation objective uses it in place of the same-named entries of
``Solution.moments()``, which it reproduces to rounding). Inputs:

============== ========================================= ==========================================
array          data (SpatialData)                        model (Solution)
============== ========================================= ==========================================
population     ``population`` (any units)                ``population`` (distribution mass)
migration      ``migration`` (J, J), rows sum to one     ``migration_matrix(sol)`` (DFM B.10)
real wage      ``wage / price_index``                    ``real_wage()`` = wage w_j / P_j
consumption    ``trade.sum(axis=0) / (price_index L)``   ``consumption_per_capita()``
============== ========================================= ==========================================

Data consumption per capita: column sums of trade are spending E_j = P_j C_j
(trade[i, j] = lam_ij E_j and lam's columns sum to one, DFM B.1), so real
consumption per resident is E_j / (P_j L_j). The moments are scale-free in
every input's units (shares, logs), so data in currency and persons compare
with the model's units directly.

Moments (names as in ``Solution.moments()``): population_share_max/min
(L_j / sum L); out_migration_rate (sum_j share_j (1 - M_jj), the share of
households that leave their location within a period); real_wage_log_sd and
consumption_pc_log_sd (population-weighted s.d. across locations of the log).

Sources (``targets.spatial`` in an estimation spec; ``load_spatial``):
``{dataset: synthetic_us48}`` (the shipped synthetic data), ``{directory: DIR}``
(DIR/trade, DIR/migration, DIR/locations with extension .csv or .parquet, as
``SpatialData.to_tidy`` writes them) or ``{trade: F, migration: F, locations: F}``;
``rtol`` (optional) is SpatialData's accounting tolerance. Relative paths are
relative to ``base_dir`` (the spec's folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hetspace.core.errors import HetspaceError, InvalidConfigError
from hetspace.core.incomplete_markets.data import SYNTHETIC, SpatialData, load_synthetic
from hetspace.core.incomplete_markets.result import Solution
from hetspace.core.incomplete_markets.spatial import migration_matrix

LOCATION_MOMENTS = ("population_share_max", "population_share_min", "out_migration_rate",
                    "real_wage_log_sd", "consumption_pc_log_sd")
SPATIAL_KEYS = ("dataset", "directory", "trade", "migration", "locations", "rtol")
_TABLES = ("trade", "migration", "locations")


def location_moments(population: np.ndarray, migration: np.ndarray, real_wage: np.ndarray,
                     consumption_pc: np.ndarray) -> dict[str, float]:
    """The LOCATION_MOMENTS of (J,) arrays and the (J, J) migration matrix (module docstring)."""
    pop = np.asarray(population, dtype=float)
    shares = pop / pop.sum()

    def log_sd(x: np.ndarray) -> float:
        lx = np.log(np.asarray(x, dtype=float))
        return float(np.sqrt(shares @ (lx - shares @ lx) ** 2))

    stay = np.diag(np.asarray(migration, dtype=float))
    return {"population_share_max": float(shares.max()),
            "population_share_min": float(shares.min()),
            "out_migration_rate": float(shares @ (1.0 - stay)),
            "real_wage_log_sd": log_sd(real_wage),
            "consumption_pc_log_sd": log_sd(consumption_pc)}


def spatial_data_moments(data: SpatialData) -> dict[str, float]:
    """LOCATION_MOMENTS of observed data (see the table in the module docstring)."""
    spending = data.trade.sum(axis=0)
    return location_moments(data.population, data.migration, data.wage / data.price_index,
                            spending / (data.price_index * data.population))


def solution_location_moments(sol: Any) -> dict[str, float]:
    """LOCATION_MOMENTS of an incomplete-markets steady state ({} for any other solution)."""
    if not isinstance(sol, Solution):
        return {}
    return location_moments(sol.population, migration_matrix(sol), sol.real_wage(),
                            sol.consumption_per_capita())


def load_spatial(body: Mapping[str, Any], base_dir: str | Path = ".") -> SpatialData:
    """SpatialData from a ``targets.spatial`` mapping; ``SpatialError(key, text)`` names the
    offending key and file on any problem (missing files, bad columns, failed checks)."""
    if not isinstance(body, Mapping):
        raise SpatialError("", f"must be a mapping {{dataset | directory | trade, migration, "
                           f"locations}}, got {body!r}")
    unknown = [k for k in body if k not in SPATIAL_KEYS]
    if unknown:
        raise SpatialError(str(unknown[0]), f"unknown key; allowed: {', '.join(SPATIAL_KEYS)}")
    given = [k for k in ("dataset", "directory", "trade") if k in body]
    if len(given) != 1:
        raise SpatialError("", "needs exactly one of 'dataset', 'directory' or the three "
                           f"files 'trade', 'migration', 'locations'; got {sorted(body)}")
    kw = {} if "rtol" not in body else {"rtol": body["rtol"]}
    if "dataset" in body:
        if body["dataset"] != SYNTHETIC or kw:
            raise SpatialError("dataset", f"the shipped dataset is {SYNTHETIC!r} (and takes "
                               f"no rtol), got {body['dataset']!r}")
        return load_synthetic()[0]
    files = _table_files(body, Path(base_dir))
    where = (str(files["trade"].parent) if "directory" in body
             else ", ".join(str(f) for f in files.values()))
    try:
        return SpatialData.from_tidy(files["trade"], files["migration"], files["locations"],
                                     **kw)
    except HetspaceError as e:
        raise SpatialError(given[0], f"{where}: {' '.join(str(e).split())}") from e
    except (OSError, ValueError, TypeError) as e:  # unreadable (parser errors are ValueErrors)
        text = " ".join(str(e).split())
        raise SpatialError(given[0], f"{where}: cannot be read: {type(e).__name__}: "
                           f"{text}") from e


class SpatialError(InvalidConfigError):
    """A problem with a spatial data source: ``key`` in the source mapping and the text."""

    def __init__(self, key: str, text: str):
        self.key, self.text = key, text
        super().__init__("spatial data source" + (f" ({key})" if key else ""), [text])


def _table_files(body: Mapping[str, Any], base_dir: Path) -> dict[str, Path]:
    if "directory" in body:
        extra = [k for k in _TABLES if k in body]
        if extra:
            raise SpatialError(extra[0], "goes with the three files, not with 'directory'")
        folder = base_dir / str(body["directory"])
        if not folder.is_dir():
            raise SpatialError("directory", f"{folder} is not a directory")
        files = {}
        for table in _TABLES:
            found = [folder / f"{table}.{ext}" for ext in ("csv", "parquet")
                     if (folder / f"{table}.{ext}").is_file()]
            if len(found) != 1:
                raise SpatialError("directory", f"{folder} must hold exactly one of "
                                   f"{table}.csv, {table}.parquet; found {len(found)}")
            files[table] = found[0]
        return files
    files = {}
    for table in _TABLES:
        if table not in body:
            raise SpatialError(table, "is required (the trade, migration and locations files)")
        path = base_dir / str(body[table])
        if not path.is_file() or path.suffix not in (".csv", ".parquet"):
            raise SpatialError(table, f"{path} must be an existing .csv or .parquet file")
        files[table] = path
    return files
