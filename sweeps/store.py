"""The results store: one Parquet row per point, streamed and written atomically.

Layout of a sweep's output folder::

    results.parquet        every stored point (one row per key), the consolidated store
    results/part-*.parquet rows streamed since the last consolidation

Rows are buffered and flushed as new part files, each written to a temporary
file, fsynced and renamed, so a killed driver leaves only complete files: at
most the unflushed buffer is lost, and those points are solved again on
resume. A flush happens when a row arrives ``flush_seconds`` or more after the
previous flush, when ``flush_rows`` rows are waiting, or when the driver calls
``flush_if_due`` (the sweep runner does so at least once a second while it
waits for actors), so a row waits at most about ``flush_seconds`` (plus a
second) to be written, and a fast sweep pays for one small Parquet write every
``flush_seconds``, not one per row. ``consolidate`` merges the
parts into ``results.parquet`` (atomically) and then removes them; a crash in
between leaves a row in both places, which ``load`` deduplicates by key (an
``ok`` row wins over a ``failed`` one, then the newest). The store is the
source of truth for what a sweep has done.

Columns: key, point (index in the spec), the axis values, shock_location,
shock_size, status ('ok' or 'failed'), error, ``m_<moment>`` per moment,
``d_<diagnostic>`` per numerical diagnostic, ``l_<name>`` per array by location (a
list per row, models whose solutions offer ``by_location()``), n_iter, warm_start,
cold_retry, t_solve, t_eval, started_unix (when the actor
started the point, its host's clock), t_roundtrip (driver side, from submitting
the point's call to receiving its rows), batch (points in that call), attempts,
actor, pid, seed, finished_utc.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hetspace.core.config import atomic_write
from hetspace.core.errors import HetspaceError

from .actors import Evaluation, Status

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.parquet"
PARTS_DIR = "results"
MOMENT_PREFIX = "m_"
DIAGNOSTIC_PREFIX = "d_"
LOCATION_PREFIX = "l_"
_NESTED = {"moments": MOMENT_PREFIX, "diagnostics": DIAGNOSTIC_PREFIX,
           "by_location": LOCATION_PREFIX}


class ResultStore:
    """The Parquet store of one sweep's output folder."""

    def __init__(self, out_dir: str | os.PathLike[str], *, flush_rows: int = 1000,
                 flush_seconds: float = 2.0):
        self.out_dir = Path(out_dir)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._buffer: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()
        self._seq = 0
        self.write_seconds = 0.0

    @property
    def results_path(self) -> Path:
        return self.out_dir / RESULTS_FILE

    def load(self) -> pd.DataFrame:
        """All stored rows, one per key (including rows still in the buffer)."""
        frames = [_read(p) for p in self._files()]
        if self._buffer:
            frames.append(pd.DataFrame(self._buffer))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=["key", "status"])
        return deduplicate(pd.concat(frames, ignore_index=True))

    def done_keys(self, *, retry_failed: bool = False) -> set[str]:
        """Keys that need no evaluation: ok rows, and failed rows unless retried."""
        df = self.load()
        if retry_failed:
            df = df[df["status"] == Status.OK]
        return set(df["key"])

    def add(self, labels: Mapping[str, Any], evaluation: Evaluation) -> None:
        """Buffer one point's row (``labels``: point index and axis values); maybe flush."""
        self._buffer.append(flatten_row(labels, evaluation))
        if len(self._buffer) >= self.flush_rows:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> Path | None:
        """Flush if rows wait and ``flush_seconds`` have passed since the last flush."""
        if self._buffer and time.monotonic() - self._last_flush >= self.flush_seconds:
            return self.flush()
        return None

    def flush(self) -> Path | None:
        """Write the buffered rows as a new part file (atomically)."""
        if not self._buffer:
            return None
        t0 = time.perf_counter()
        table = _rows_table(self._buffer)
        self._seq += 1
        name = f"part-{time.time_ns()}-{os.getpid()}-{self._seq:05d}.parquet"
        path = atomic_write(self.out_dir / PARTS_DIR / name, lambda fh: pq.write_table(table, fh))
        self._buffer.clear()
        self._last_flush = time.monotonic()
        self.write_seconds += time.perf_counter() - t0
        return path

    def consolidate(self) -> Path | None:
        """Flush, merge everything into results.parquet (atomically), remove merged parts."""
        self.flush()
        parts = sorted((self.out_dir / PARTS_DIR).glob("part-*.parquet"))
        if not parts and self.results_path.exists():
            return self.results_path
        df = self.load()
        if df.empty:
            return None
        table = _to_table(df.sort_values("point", kind="stable") if "point" in df else df)
        atomic_write(self.results_path, lambda fh: pq.write_table(table, fh))
        for part in parts:
            part.unlink(missing_ok=True)
        return self.results_path

    def _files(self) -> list[Path]:
        files = [self.results_path] if self.results_path.exists() else []
        return files + sorted((self.out_dir / PARTS_DIR).glob("part-*.parquet"))


def load_results(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The stored rows of the sweep in ``out_dir`` (one per point)."""
    path = Path(out_dir)
    if not (path / RESULTS_FILE).exists() and not (path / PARTS_DIR).is_dir():
        raise FileNotFoundError(f"{path} holds no sweep results ({RESULTS_FILE} is missing)")
    return ResultStore(path).load()


class StoreReadError(HetspaceError, OSError):
    """A stored results file cannot be read (truncated, not Parquet)."""


def _read(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, ValueError, pa.ArrowException) as e:  # truncated, empty, not Parquet
        raise StoreReadError(f"{path}: cannot be read as Parquet ({' '.join(str(e).split())}); "
                             "move it away (its points are then solved again)") from e


def flatten_row(labels: Mapping[str, Any], evaluation: Evaluation) -> dict[str, Any]:
    """One flat record: labels, the evaluation's scalar fields, ``m_<name>`` per moment,
    ``d_<name>`` per numerical diagnostic and ``l_<name>`` per array by location."""
    row = evaluation.row()
    out = dict(labels)
    for name, value in row.items():
        if name not in _NESTED:
            out[name] = value
    for key, prefix in _NESTED.items():
        for name, value in (row.get(key) or {}).items():
            out[prefix + name] = value
    out["finished_utc"] = datetime.now(UTC).isoformat(timespec="microseconds")
    return out


def deduplicate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per key: an ok row wins over a failed one, then the newest."""
    if df.empty:
        return df
    rank = (df["status"] == Status.OK).astype(int)
    order = df.assign(_rank=rank).sort_values(["_rank", "finished_utc"], kind="stable")
    out = order.drop_duplicates("key", keep="last").drop(columns="_rank")
    if "point" in out:
        out = out.sort_values("point", kind="stable")
    return out.reset_index(drop=True)


def moment_columns(df: pd.DataFrame) -> list[str]:
    """Moment names present in a results frame (without the ``m_`` prefix)."""
    return [c[len(MOMENT_PREFIX):] for c in df.columns if c.startswith(MOMENT_PREFIX)]


def _rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table, column by column (every column any row has, in order).

    Built straight from the Python values (several times cheaper than through a
    DataFrame); a column whose values Arrow cannot type as one (e.g. numbers
    and strings on one axis) sends the whole batch through :func:`_to_table`.
    """
    names = list(dict.fromkeys(name for row in rows for name in row))
    try:
        return pa.table({name: pa.array([row.get(name) for row in rows]) for name in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _to_table(pd.DataFrame(rows, columns=names))


def _to_table(df: pd.DataFrame) -> pa.Table:
    df = df.copy()
    for col in df.columns:
        if col.startswith(LOCATION_PREFIX):  # lists (buffered) and arrays (read back)
            df[col] = df[col].map(lambda v: None if v is None or _missing(v) else
                                  [float(x) for x in v])
        elif df[col].dtype == object and _all_numbers(df[col].dropna()):
            df[col] = pd.to_numeric(df[col])  # ints and floats (parts of different types)
        elif df[col].dtype == object and df[col].dropna().map(type).nunique() > 1:
            df[col] = df[col].map(lambda v: None if v is None else str(v))
    return pa.Table.from_pandas(df, preserve_index=False)


def _missing(value: Any) -> bool:
    """A missing list cell (pandas fills absent ones with nan)."""
    return isinstance(value, float) and value != value


def _all_numbers(values: pd.Series) -> bool:
    return len(values) > 0 and all(isinstance(v, (int, float, np.integer, np.floating))
                                   and not isinstance(v, (bool, np.bool_)) for v in values)
