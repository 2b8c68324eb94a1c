"""The Parquet result store: what a flush writes, when it writes, what a killed driver keeps."""

from __future__ import annotations

import math

import pandas as pd

from hetspace.sweeps.actors import Evaluation, Status
from hetspace.sweeps.store import PARTS_DIR, ResultStore


def _row(key: str, status: str = "ok", diagnostics=None, **moments: float) -> Evaluation:
    return Evaluation(key=key, status=Status(status), error=None if status == "ok" else "boom",
                      moments=moments, n_iter=3 if status == "ok" else None, t_eval=0.01,
                      diagnostics=diagnostics or {})


def _parts(store: ResultStore) -> list:
    return sorted((store.out_dir / PARTS_DIR).glob("part-*.parquet"))


def test_flushed_rows_read_back_with_every_column(tmp_path) -> None:
    store = ResultStore(tmp_path)
    # a failed row (no moments) first, mixed numbers and text on one axis, a list value
    store.add({"point": 0, "axis": 1.5, "A": [1.0, 2.0]}, _row("a", "failed"))
    store.add({"point": 1, "axis": "high", "A": [1.0, 3.0]},
              _row("b", welfare=0.5, diagnostics={"euler_error_max_log10": -6.5}))
    store.add({"point": 2, "axis": 2, "A": None}, _row("c", welfare=0.25, r=float("nan")))
    store.flush()
    assert len(_parts(store)) == 1
    df = ResultStore(tmp_path).load().set_index("key")
    assert list(df.index) == ["a", "b", "c"]
    assert df.loc["a", "status"] == "failed" and df.loc["a", "error"] == "boom"
    assert math.isnan(df.loc["a", "m_welfare"]) and df.loc["b", "m_welfare"] == 0.5
    assert df.loc["c", "m_welfare"] == 0.25 and math.isnan(df.loc["c", "m_r"])
    assert [str(v) for v in df["axis"]] == ["1.5", "high", "2"]
    assert df.loc["c", "n_iter"] == 3 and pd.isna(df.loc["a", "n_iter"])
    assert df.loc["b", "d_euler_error_max_log10"] == -6.5  # diagnostics: a column of their own
    assert math.isnan(df.loc["c", "d_euler_error_max_log10"])


def test_numeric_rows_keep_their_types(tmp_path) -> None:
    store = ResultStore(tmp_path)
    store.add({"point": 0, "gamma": 1.0, "shock_location": None}, _row("k0", "failed"))
    for i in (1, 2):  # the moments appear only from the second row on
        store.add({"point": i, "gamma": 1.0 + i, "shock_location": None},
                  _row(f"k{i}", welfare=0.1 * i))
    store.flush()
    df = ResultStore(tmp_path).load()
    assert df["gamma"].tolist() == [1.0, 2.0, 3.0] and df["point"].tolist() == [0, 1, 2]
    assert df["m_welfare"].dtype == float and df["gamma"].dtype == float
    assert math.isnan(df["m_welfare"][0]) and df["m_welfare"][1:].tolist() == [0.1, 0.2]


def test_rows_are_written_in_batches_and_a_killed_driver_keeps_the_written_ones(tmp_path) -> None:
    store = ResultStore(tmp_path, flush_rows=3, flush_seconds=1e9)
    store.add({"point": 0}, _row("a"))
    store.add({"point": 1}, _row("b"))
    assert store.flush_if_due() is None and not _parts(store)  # not due, nothing written
    store.add({"point": 2}, _row("c"))  # flush_rows reached
    assert len(_parts(store)) == 1
    store.add({"point": 3}, _row("d"))
    # the driver dies here (the object is dropped unflushed): a new driver sees a, b, c
    resumed = ResultStore(tmp_path)
    assert resumed.done_keys() == {"a", "b", "c"}
    store.flush_seconds = 0.0
    assert store.flush_if_due() is not None  # due now: d is written
    assert ResultStore(tmp_path).done_keys() == {"a", "b", "c", "d"}
    resumed.consolidate()
    assert not _parts(resumed) and len(ResultStore(tmp_path).load()) == 4
