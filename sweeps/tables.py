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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetspace.core.config import atomic_write
from hetspace.core.errors import InvalidConfigError
from hetspace.core.protocol import get_model

from .actors import Status
from .display import Display, format_axis_value, format_number
from .effects import EFFECTS, add_shock_effects
from .store import MOMENT_PREFIX, load_results, moment_columns

FORMATS = ("md", "tex", "csv")
GREEK = {"α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "θ": r"\theta",
         "σ": r"\sigma", "ω": r"\omega"}
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
                      moments: Sequence[str] | None = None,
                      display: Display | None = None, location_names: Sequence[str] = ()
                      ) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) pairs of ``moments`` across the varying ``axes`` (see module doc).

    With a ``display``, values are in display units (annual %, %), titles and
    headers are labels with units; without, raw values and names. One region shock
    next to the unshocked economy is not an axis: its effects (``EFFECTS``) sit
    beside the unshocked moments of the same cell, and the titles name the shocked
    location (``location_names[j]``, else its index).
    """
    display = display or Display()
    moments = choose_moments(df, moments)
    varying = varying_axes(df, axes)
    cells = df[list(varying)].copy()
    for m in moments:
        cells[m] = [_cell(display.value(m, v), s)
                    for v, s in zip(df[MOMENT_PREFIX + m], df["status"], strict=True)]
    note = ""
    if "shock" in varying and _one_shock(df):
        shocked = df[df["shock"] != "none"].iloc[0]
        note = (f" (shock: {_location(shocked, location_names)}, "
                f"{100.0 * float(shocked['shock_size']):+g}% productivity; "
                "other moments: the economy before it)")
        varying = [a for a in varying if a != "shock"]
        cells = _collapse_shock(cells, varying, moments)
    head = {m: display.moment(m).header() for m in moments}
    name = {a: display.axis(a).header() for a in varying}
    cells = cells.rename(columns={**head, **name})
    if not varying:
        first = cells.iloc[0] if len(cells) else pd.Series(dtype=object)
        return [("moments" + note, pd.DataFrame({"moment": [head[m] for m in moments],
                                                 "value": [first.get(head[m])
                                                           for m in moments]}))]
    if len(varying) == 1:
        return [(f"moments by {name[varying[0]]}{note}", cells.set_index(name[varying[0]]))]
    if len(varying) == 2:
        rows, cols = (name[a] for a in varying)
        return [(f"{head[m]} by {rows} (rows) and {cols} (columns){note}",
                 cells.pivot_table(index=rows, columns=cols, values=head[m], aggfunc="first",
                                   sort=False, dropna=False)) for m in moments]
    return [("moments by point" + note, cells.set_index([name[a] for a in varying]))]


def constant_moments(df: pd.DataFrame, moments: Sequence[str]) -> dict[str, float]:
    """Moments with one value (to 1e-9 relative) at every solved point, when more than one
    point solved: name -> that value. Tables leave them out with a note."""
    ok = df[df["status"] == Status.OK]
    if len(ok) < 2:
        return {}
    out = {}
    for m in moments:
        values = pd.to_numeric(ok[MOMENT_PREFIX + m], errors="coerce").to_numpy(dtype=float)
        if not np.isnan(values).any() and np.allclose(values, values[0], rtol=1e-9, atol=0.0):
            out[m] = float(values[0])
    return out


def format_tables(tables: list[tuple[str, pd.DataFrame]], fmt: str, notes: Sequence[str] = ()
                  ) -> str:
    """Render tables as Markdown (``md``), LaTeX (``tex``: booktabs, siunitx ``S``
    columns) or CSV (``csv``); ``notes`` follow the tables (md, tex)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        if len(tables) == 1:
            return tables[0][1].to_csv()
        return pd.concat({title.split(" by ")[0]: t for title, t in tables},
                         names=["moment"]).to_csv()
    if fmt == "md":
        return "\n".join([*(_markdown(title, t) for title, t in tables),
                          *(f"*{n}*\n" for n in notes)])
    return "\n".join([*(_latex(title, t) for title, t in tables),
                      *(f"% {n}\n" for n in notes)])


def write_tables(out_dir: Path, df: pd.DataFrame, axes: Sequence[str],
                 moments: Sequence[str] | None = None,
                 display: Display | None = None, location_names: Sequence[str] = ()
                 ) -> list[Path]:
    """Write tables/robustness.{md,tex,csv}; returns the paths.

    Markdown and LaTeX leave out moments that are constant across the sweep (a note
    names them and their value); the CSV keeps every moment."""
    moments = choose_moments(df, moments)
    display = display or Display()
    constant = constant_moments(df, moments)
    shown = [m for m in moments if m not in constant] or moments
    notes = [_constant_note(constant, display)] if constant and shown != moments else []
    paths = []
    for fmt in FORMATS:
        tables = robustness_tables(df, axes, moments if fmt == "csv" else shown, display,
                                   location_names)
        text = format_tables(tables, fmt, notes)
        path = Path(out_dir) / "tables" / f"robustness.{fmt}"
        paths.append(atomic_write(path, lambda fh, t=text: fh.write(t.encode())))
    return paths


def table_from_dir(out_dir: str | os.PathLike[str], moments: Sequence[str] | None = None,
                   fmt: str = "md") -> str:
    """The robustness table(s) of the sweep in ``out_dir``, rendered in display units."""
    meta = read_meta(out_dir)
    df = add_shock_effects(load_results(out_dir), meta["axes"])
    display = display_from_meta(meta)
    chosen = choose_moments(df, moments or meta["moments"])
    constant = constant_moments(df, chosen) if fmt != "csv" else {}
    shown = [m for m in chosen if m not in constant] or chosen
    notes = [_constant_note(constant, display)] if shown != chosen else []
    return format_tables(robustness_tables(df, meta["axes"], shown, display,
                                           location_names(meta)), fmt, notes)


def plots_from_dir(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw the moment plots of the sweep in ``out_dir`` again (:func:`plot_moments`)."""
    meta = read_meta(out_dir)
    df = add_shock_effects(load_results(out_dir), meta["axes"])
    return plot_moments(Path(out_dir), df, meta["axes"], meta["moments"],
                        display_from_meta(meta), location_names(meta))


def location_names(meta: Mapping[str, Any]) -> list[str]:
    """The location names a sweep's ``sweep.json`` records (empty if none)."""
    return [str(loc[0]) for loc in meta.get("locations") or []]


def display_from_meta(meta: Mapping[str, Any]) -> Display:
    """The Display of a sweep from its ``sweep.json`` (raw names if the model is unknown)."""
    try:
        model = get_model(str(meta.get("model")))
    except InvalidConfigError:
        model = None
    return Display.for_model(model, float(meta.get("periods_per_year", 1.0)))


def plot_moments(out_dir: Path, df: pd.DataFrame, axes: Sequence[str],
                 moments: Sequence[str] | None = None,
                 display: Display | None = None, location_names: Sequence[str] = ()
                 ) -> list[Path]:
    """plots/<moment>_vs_<axis>.{png,pdf} for each moment and numeric varying axis (see
    :func:`moment_figure`). Returns the PNG paths."""
    moments = choose_moments(df, moments)
    paths = []
    for x in (a for a in varying_axes(df, axes) if _numeric(df[a])):
        for m in moments:
            fig = moment_figure(df, axes, m, x, display, location_names)
            stem = Path(out_dir) / "plots" / f"{_safe(m)}_vs_{_safe(x)}"
            for kind in ("png", "pdf"):
                atomic_write(stem.with_suffix(f".{kind}"), lambda fh, f=fig, k=kind:
                             f.savefig(fh, format=k, dpi=110, bbox_inches="tight"))
            paths.append(stem.with_suffix(".png"))
    return paths


def moment_figure(df: pd.DataFrame, axes: Sequence[str], moment: str, x: str,
                  display: Display | None = None, location_names: Sequence[str] = ()):
    """A matplotlib Figure of ``moment`` (display units) against axis ``x``: one line per
    value of the second varying axis, further axes held at their first value (named in
    the title, as is the region shock of an effect, at ``location_names[j]``); axes
    labelled with names and units."""
    # Figure objects, not pyplot: the caller's backend (a notebook's inline one) is untouched
    from matplotlib.figure import Figure

    display = display or Display()
    others = [a for a in varying_axes(df, axes) if a != x]
    sub = df[df["status"] == Status.OK]
    held_parts = []
    if "shock" in others and _one_shock(df):  # effects from the shocked rows, else unshocked
        sub = sub[(sub["shock"] != "none") == (moment in EFFECTS)]
        others.remove("shock")
        held_parts.append(shock_text(df, location_names) if moment in EFFECTS
                          else "before the shock")
    for held in others[1:]:
        sub = sub[sub[held] == df[held].iloc[0]]
    info = display.moment(moment)
    fig = Figure(figsize=(5.0, 3.5))
    ax = fig.subplots()
    _draw(ax, sub, x, others[0] if others else None, moment, display)
    held_text = ", ".join([*held_parts, *(
        f"{display.axis(h).label} = {format_axis_value(df[h].iloc[0])}" for h in others[1:])])
    ax.set(xlabel=display.axis(x).header(), ylabel=info.header(),
           title=info.label + (f"\n({held_text})" if held_text else ""))
    return fig


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


def _draw(ax, sub: pd.DataFrame, x: str, line: str | None, moment: str,
          display: Display) -> None:
    groups = [(None, sub)] if line is None else list(sub.groupby(line, sort=False, dropna=False))
    for value, g in groups:
        g = g.sort_values(x)
        label = None if line is None else \
            f"{display.axis(line).label} = {format_axis_value(value)}"
        y = [display.value(moment, v) for v in g[MOMENT_PREFIX + moment].astype(float)]
        ax.plot(g[x].astype(float), y, marker="o", label=label)
    if line is not None:
        ax.legend(fontsize="small")


def shock_text(df: pd.DataFrame, location_names: Sequence[str] = ()) -> str:
    """'after a -1% productivity shock to MA' for the sweep's one region shock."""
    row = df[df["shock"] != "none"].iloc[0]
    return (f"after a {100.0 * float(row['shock_size']):+g}% productivity shock to "
            f"{_location(row, location_names)}")


def _location(row: pd.Series, location_names: Sequence[str]) -> str:
    """The shocked location of a row: its name if known, else 'location j'."""
    j = int(float(row["shock_location"]))
    return location_names[j] if j < len(location_names) else f"location {j}"


def _one_shock(df: pd.DataFrame) -> bool:
    """One region shock beside the unshocked economy (its effects are columns then)."""
    shocks = set(df["shock"])
    return len(shocks) == 2 and "none" in shocks


def _collapse_shock(cells: pd.DataFrame, others: list[str], moments: Sequence[str]
                    ) -> pd.DataFrame:
    """One row per cell of the other axes: the unshocked moments, and the effects
    (``EFFECTS``) from the shocked row."""
    effects = [m for m in moments if m in EFFECTS]
    levels = [m for m in moments if m not in EFFECTS]
    base = cells[cells["shock"] == "none"].drop(columns=["shock", *effects])
    hit = cells[cells["shock"] != "none"][[*others, *effects]]
    if not others:
        merged = pd.concat([base.reset_index(drop=True).iloc[:1],
                            hit.reset_index(drop=True).iloc[:1]], axis=1)
    else:
        merged = base.merge(hit, on=others, how="outer", sort=False)
    return merged[[*others, *levels, *effects]] if moments else merged


def _constant_note(constant: Mapping[str, float], display: Display) -> str:
    parts = [f"{display.moment(m).header()} = {format_number(display.value(m, v))}"
             for m, v in constant.items()]
    return "Not shown, the same at every point: " + "; ".join(parts) + "."


def _cell(value: Any, status: str) -> Any:
    if status != Status.OK:
        return "failed"
    return value


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _fmt(value: Any) -> str:
    return format_number(value)


def _label(idx: Any) -> str:
    return " / ".join(format_axis_value(i) for i in idx) if isinstance(idx, tuple) \
        else format_axis_value(idx)


def _markdown(title: str, table: pd.DataFrame) -> str:
    index_name = " / ".join(str(n) for n in table.index.names if n is not None)
    head = [index_name or "", *(format_axis_value(c) for c in table.columns)]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join([":--"] + ["--:"] * len(table.columns)) + "|"]
    for idx, row in table.iterrows():
        lines.append("| " + " | ".join([_label(idx), *(_fmt(v) for v in row)]) + " |")
    return "\n".join(lines) + "\n"


def _latex(title: str, table: pd.DataFrame) -> str:
    """booktabs rules; numeric columns are siunitx ``S`` columns (text cells and headers
    in braces, so siunitx leaves them alone)."""
    index_name = " / ".join(str(n) for n in table.index.names if n is not None)
    head = [_tex(index_name), *(f"{{{_tex(format_axis_value(c))}}}" for c in table.columns)]
    lines = [f"% {_tex(title)}", r"% needs \usepackage{booktabs} and \usepackage{siunitx}",
             r"\begin{tabular}{l" + "S" * len(table.columns) + "}", r"\toprule",
             " & ".join(head) + r" \\", r"\midrule"]
    for idx, row in table.iterrows():
        cells = [_fmt(v) for v in row]
        cells = [c if _is_number_text(c) else f"{{{_tex(c)}}}" for c in cells]
        lines.append(" & ".join([_tex(_label(idx)), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.lower() not in ("nan", "inf", "-inf")


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                 ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    for letter, command in GREEK.items():  # pdflatex has no Greek text glyphs
        text = text.replace(letter, f"${command}$")
    return text


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
