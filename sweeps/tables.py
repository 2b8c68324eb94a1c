"""Robustness tables (Markdown, LaTeX, CSV) and plots (PNG) from a sweep's results.

Which columns are axes comes from ``sweep.json`` in the output folder (written
by :func:`~hetspace.sweeps.runner.run_sweep`); only axes that take more than
one value count. Layout by the number of varying axes:

- none: one row per moment;
- one: rows are the axis values, columns the moments;
- two: one pivoted table per moment, rows the first axis, columns the second;
- more: a long table, one row per point.

Failed points show as ``failed``. Plots: each moment against each numeric
varying axis, one line per value of a second varying axis (any further axes
held at their first value, named in the title).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hetspace.core.config import atomic_write
from hetspace.core.errors import InvalidConfigError

from .actors import STATUS_OK
from .store import MOMENT_PREFIX, load_results, moment_columns

FORMATS = ("md", "tex", "csv")
META_FILE = "sweep.json"


def read_meta(out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The sweep's metadata (name, model, axes, moments) from ``sweep.json``."""
    path = Path(out_dir) / META_FILE
    if not path.exists():
        raise FileNotFoundError(f"{out_dir} is not a sweep output folder ({META_FILE} missing)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidConfigError(str(path), [f"cannot be read as JSON ({e})"]) from e
    missing = [k for k in ("axes", "moments") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise InvalidConfigError(str(path), [f"is not a sweep's {META_FILE}: it lacks "
                                             f"{', '.join(missing)}"])
    return meta


def robustness_tables(df: pd.DataFrame, axes: Sequence[str],
                      moments: Sequence[str] | None = None) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) pairs of ``moments`` across the varying ``axes`` (see module doc)."""
    moments = choose_moments(df, moments)
    varying = varying_axes(df, axes)
    cells = df[list(varying)].copy()
    for m in moments:
        cells[m] = [_cell(v, s) for v, s in zip(df[MOMENT_PREFIX + m], df["status"], strict=True)]
    if not varying:
        first = cells.iloc[0] if len(cells) else pd.Series(dtype=object)
        return [("moments", pd.DataFrame({"moment": moments,
                                          "value": [first.get(m) for m in moments]}))]
    if len(varying) == 1:
        return [(f"moments by {varying[0]}", cells.set_index(varying[0]))]
    if len(varying) == 2:
        rows, cols = varying
        return [(f"{m} by {rows} (rows) and {cols} (columns)",
                 cells.pivot_table(index=rows, columns=cols, values=m, aggfunc="first",
                                   sort=False)) for m in moments]
    return [("moments by point", cells.set_index(list(varying)))]


def format_tables(tables: list[tuple[str, pd.DataFrame]], fmt: str) -> str:
    """Render tables as Markdown (``md``), LaTeX (``tex``, booktabs) or CSV (``csv``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        if len(tables) == 1:
            return tables[0][1].to_csv()
        return pd.concat({title.split(" ")[0]: t for title, t in tables},
                         names=["moment"]).to_csv()
    render = _markdown if fmt == "md" else _latex
    return "\n".join(render(title, t) for title, t in tables)


def write_tables(out_dir: Path, df: pd.DataFrame, axes: Sequence[str],
                 moments: Sequence[str] | None = None) -> list[Path]:
    """Write tables/robustness.{md,tex,csv}; returns the paths."""
    tables = robustness_tables(df, axes, moments)
    paths = []
    for fmt in FORMATS:
        text = format_tables(tables, fmt)
        path = Path(out_dir) / "tables" / f"robustness.{fmt}"
        paths.append(atomic_write(path, lambda fh, t=text: fh.write(t.encode())))
    return paths


def table_from_dir(out_dir: str | os.PathLike[str], moments: Sequence[str] | None = None,
                   fmt: str = "md") -> str:
    """The robustness table(s) of the sweep in ``out_dir``, rendered."""
    meta = read_meta(out_dir)
    df = load_results(out_dir)
    return format_tables(robustness_tables(df, meta["axes"], moments or meta["moments"]), fmt)


def plot_moments(out_dir: Path, df: pd.DataFrame, axes: Sequence[str],
                 moments: Sequence[str] | None = None) -> list[Path]:
    """plots/<moment>_vs_<axis>.png for each moment and numeric varying axis."""
    # Figure objects, not pyplot: the caller's backend (a notebook's inline one) is untouched
    from matplotlib.figure import Figure

    moments = choose_moments(df, moments)
    varying = varying_axes(df, axes)
    ok = df[df["status"] == STATUS_OK]
    paths = []
    for x in (a for a in varying if _numeric(df[a])):
        others = [a for a in varying if a != x]
        sub = ok
        for held in others[1:]:
            sub = sub[sub[held] == df[held].iloc[0]]
        for m in moments:
            fig = Figure(figsize=(5.0, 3.5))
            ax = fig.subplots()
            _draw(ax, sub, x, others[0] if others else None, MOMENT_PREFIX + m)
            held_text = ", ".join(f"{h}={df[h].iloc[0]}" for h in others[1:])
            ax.set(xlabel=x, ylabel=m, title=f"{m} vs {x}" + (f" ({held_text})" if held_text
                                                                else ""))
            path = Path(out_dir) / "plots" / f"{_safe(m)}_vs_{_safe(x)}.png"
            atomic_write(path, lambda fh, f=fig: f.savefig(fh, format="png", dpi=110,
                                                           bbox_inches="tight"))
            paths.append(path)
    return paths


def choose_moments(df: pd.DataFrame, moments: Sequence[str] | None) -> list[str]:
    """The requested moments (all stored ones if none); unknown names raise."""
    available = moment_columns(df)
    if not moments:
        return available
    unknown = [m for m in moments if m not in available]
    if unknown and available:
        raise InvalidConfigError("moments", [f"unknown moment {m!r}; the results have: "
                                             + ", ".join(available) for m in unknown])
    return list(moments)


def varying_axes(df: pd.DataFrame, axes: Sequence[str]) -> list[str]:
    """The axes (present as columns) that take more than one value."""
    return [a for a in axes if a in df and df[a].nunique(dropna=False) > 1]


def _draw(ax, sub: pd.DataFrame, x: str, line: str | None, col: str) -> None:
    groups = [(None, sub)] if line is None else list(sub.groupby(line, sort=False, dropna=False))
    for value, g in groups:
        g = g.sort_values(x)
        label = None if line is None else f"{line}={value}"
        ax.plot(g[x].astype(float), g[col].astype(float), marker="o", label=label)
    if line is not None:
        ax.legend(fontsize="small")


def _cell(value: Any, status: str) -> Any:
    if status != STATUS_OK:
        return "failed"
    return value


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _markdown(title: str, table: pd.DataFrame) -> str:
    index_name = " / ".join(str(n) for n in table.index.names if n is not None)
    head = [index_name or "", *(_fmt(c) for c in table.columns)]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join([":--"] + ["--:"] * len(table.columns)) + "|"]
    for idx, row in table.iterrows():
        label = " / ".join(_fmt(i) for i in idx) if isinstance(idx, tuple) else _fmt(idx)
        lines.append("| " + " | ".join([label, *(_fmt(v) for v in row)]) + " |")
    return "\n".join(lines) + "\n"


def _latex(title: str, table: pd.DataFrame) -> str:
    index_name = " / ".join(str(n) for n in table.index.names if n is not None)
    head = [index_name, *(_fmt(c) for c in table.columns)]
    lines = [f"% {title}", r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             " & ".join(_tex(h) for h in head) + r" \\", r"\midrule"]
    for idx, row in table.iterrows():
        label = " / ".join(_fmt(i) for i in idx) if isinstance(idx, tuple) else _fmt(idx)
        lines.append(" & ".join(_tex(c) for c in [label, *(_fmt(v) for v in row)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                 ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
