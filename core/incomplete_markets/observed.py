"""Observed spatial data: where it comes from and its location moments (the model's
``ModelSpec.observed`` hook, which an estimation's ``targets.spatial`` calls).

The location moments themselves are defined once, in
:mod:`hetspace.core.incomplete_markets.moments` (``location_moments``, with the
table of which data and model arrays enter them): ``observed_moments`` is
its data side and ``Solution.moments()`` its model side, so an estimation
compares like with like by construction.

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

from ..errors import DataSourceError, HetspaceError
from .data import SYNTHETIC, SpatialData, load_synthetic
from .moments import data_moments

SPATIAL_KEYS = ("dataset", "directory", "trade", "migration", "locations", "rtol")
_TABLES = ("trade", "migration", "locations")


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


def observed_moments(body: Mapping[str, Any], base_dir: str | Path = ".") -> dict[str, float]:
    """The location moments (``moments.LOCATION_MOMENTS``) of the spatial data that
    ``body`` describes (``load_spatial``): the ``observed`` hook of the model."""
    return data_moments(load_spatial(body, base_dir))


class SpatialError(DataSourceError):
    """A problem with a spatial data source: ``key`` in the source mapping and the text."""

    def __init__(self, key: str, text: str):
        super().__init__("spatial data source", key, text)


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
