"""One self-contained HTML page per sweep: tables, plots, diagnostics, the spec.

``report.html`` in the sweep's output folder holds, with nothing to fetch (the
plots are embedded as base64 PNG, the style is inline):

- what was swept (model, points, how many solved and failed);
- the robustness tables in display units (as ``tables/robustness.md``; a note names
  the moments left out because they are the same at every point);
- every PNG of ``plots/`` (moment plots and maps);
- solver diagnostics: failed points with their errors, the spread of each stored
  diagnostic (``d_`` columns: Euler errors, residuals, iteration counts) over the
  solved points, per-point status, warm start, iterations and solve times, and the
  sweep's own timings when known;
- the spec as run (``spec.yaml``) and ``environment.json``.

Tables are rendered by pandas (``DataFrame.to_html``, which escapes text such as
error messages). :func:`write_report` is called by the sweep at its end;
``hetspace report DIR`` (:func:`report_from_dir`) writes it again from what is
stored and logs it to the sweep's MLflow run if the folder's store has it.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hetspace.core.config import atomic_write
from hetspace.core.errors import interrupted

from .actors import Status
from .display import Display, format_axis_value, format_number
from .effects import add_shock_effects
from .store import DIAGNOSTIC_PREFIX, load_results, moment_columns
from .tables import (
    choose_moments,
    constant_moments,
    display_from_meta,
    location_names,
    read_meta,
    robustness_tables,
    varying_axes,
)

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
#: per-point rows shown at most (the rest are in results.csv)
MAX_POINT_ROWS = 500
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em}td{text-align:right}
th{background:#f3f3f3}h3{font-size:1em;margin:1.2em 0 .3em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
figure{display:inline-block;margin:.5em;vertical-align:top}
figure img{max-width:520px;border:1px solid #eee}
figcaption{font-size:.8em;color:#555;text-align:center}.note{color:#555;font-style:italic}
.failed{color:#a00}
"""


def write_report(out_dir: str | os.PathLike[str], df: pd.DataFrame, meta: Mapping[str, Any],
                 timings: Mapping[str, float] | None = None) -> Path:
    """Write ``out_dir/report.html`` (atomically) from the sweep's rows (with the shock
    effects) and ``sweep.json``; returns its path."""
    text = render_report(Path(out_dir), df, meta, timings)
    return atomic_write(Path(out_dir) / REPORT_FILE, lambda fh: fh.write(text.encode()))


def report_from_dir(out_dir: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """Write the report of the sweep stored in ``out_dir`` (drawing its plots first if
    ``plots/`` has none) and log it to the sweep's MLflow run if its store is there.
    Returns (path, the run id it was logged to, or None)."""
    from .maps import plot_maps
    from .tables import plots_from_dir

    out = Path(out_dir)
    meta = read_meta(out)
    df = add_shock_effects(load_results(out), meta["axes"])
    if not any((out / "plots").glob("*.png")) and (df["status"] == Status.OK).any():
        plots_from_dir(out)
        plot_maps(out, df, meta)
    path = write_report(out, df, meta)
    try:
        return path, log_to_run(out, path)
    except Exception as e:  # the page is written; a store that fails only loses the copy
        if interrupted(e):
            raise
        logger.warning("report written, but not logged to MLflow: %s",
                       " ".join(str(e).split())[:300])
        return path, None


def render_report(out_dir: Path, df: pd.DataFrame, meta: Mapping[str, Any],
                  timings: Mapping[str, float] | None = None) -> str:
    """The report page as text (see the module docstring)."""
    display = display_from_meta(meta)
    spec_text = _read(out_dir / "spec.yaml")
    name = html.escape(str(meta.get("name", out_dir.name)))
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>hetspace sweep {name}</title><style>{STYLE}</style></head><body>",
             f"<h1>Sweep {name}</h1>", _overview(df, meta, spec_text),
             "<h2>Tables</h2>", _tables(df, meta, display),
             "<h2>Plots</h2>", _plots(out_dir / "plots"),
             "<h2>Solver diagnostics</h2>", _diagnostics(df, meta, timings),
             "<h2>Spec</h2>", f"<pre>{html.escape(spec_text or '(spec.yaml missing)')}</pre>"]
    env = _read(out_dir / "environment.json")
    if env:
        parts += ["<h2>Environment</h2>", f"<pre>{html.escape(env)}</pre>"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='note'>Written {stamp} from {html.escape(str(out_dir))}.</p>"
                 "</body></html>")
    return "\n".join(parts)


def log_to_run(out_dir: Path, path: Path) -> str | None:
    """Log ``path`` to the newest sweep run of ``out_dir`` in the store ``out_dir``'s
    spec names (or ``out_dir/mlflow.db``); the run id, or None if there is none."""
    from .tracking import KIND_TAG, OUT_TAG, default_tracking_uri

    uri = _spec_tracking_uri(out_dir)
    if uri is None:
        if not (out_dir / "mlflow.db").is_file():
            return None
        uri = default_tracking_uri(out_dir)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiments, filter_string=f"tags.`{KIND_TAG}` = 'sweep' and "
        f"tags.`{OUT_TAG}` = '{out_dir.resolve()}'",
        order_by=["attributes.start_time DESC"], max_results=1) if experiments else []
    if not runs:
        return None
    client.log_artifact(runs[0].info.run_id, str(path))
    return runs[0].info.run_id


def _overview(df: pd.DataFrame, meta: Mapping[str, Any], spec_text: str) -> str:
    ok = int((df["status"] == Status.OK).sum())
    failed = len(df) - ok
    try:
        description = (yaml.safe_load(spec_text) or {}).get("description", "")
    except (yaml.YAMLError, AttributeError):
        description = ""
    items = [f"model <b>{html.escape(str(meta.get('model')))}</b>",
             f"{len(df)} points stored of {meta.get('n_points', len(df))}",
             f"{ok} solved", f"<span class='{'failed' if failed else ''}'>{failed} failed</span>"]
    axes = ", ".join(html.escape(a) for a in meta.get("axes", []))
    return (f"<p>{html.escape(str(description or ''))}</p><p>{'; '.join(items)}. "
            f"Axes: {axes or 'none'}.</p>")


def _tables(df: pd.DataFrame, meta: Mapping[str, Any], display: Display) -> str:
    if not (df["status"] == Status.OK).any() or not moment_columns(df):
        return "<p class='note'>No point solved: no tables.</p>"
    chosen = choose_moments(df, meta.get("moments") or None)
    constant = constant_moments(df, chosen)
    shown = [m for m in chosen if m not in constant] or chosen
    out = [_html_table(t, title) for title, t in
           robustness_tables(df, meta["axes"], shown, display, location_names(meta))]
    if shown != chosen:
        gone = "; ".join(f"{display.moment(m).header()} = "
                         f"{format_number(display.value(m, v))}" for m, v in constant.items())
        out.append(f"<p class='note'>Not shown, the same at every point: "
                   f"{html.escape(gone)}.</p>")
    return "\n".join(out)


def _plots(folder: Path) -> str:
    pngs = sorted(folder.glob("*.png"), key=lambda p: (not p.name.startswith("map_"), p.name))
    if not pngs:
        return "<p class='note'>No plots.</p>"
    figures = []
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        stem = html.escape(png.stem)
        figures.append(f"<figure><img src='data:image/png;base64,{data}' alt='{stem}'>"
                       f"<figcaption>{stem} (PDF beside it in plots/)</figcaption></figure>")
    return "\n".join(figures)


def _diagnostics(df: pd.DataFrame, meta: Mapping[str, Any],
                 timings: Mapping[str, float] | None) -> str:
    axes = [a for a in varying_axes(df, meta.get("axes", [])) if a in df]
    failed = df[df["status"] != Status.OK]
    out = []
    if timings:
        rows = {k: v for k, v in timings.items() if isinstance(v, int | float)}
        out.append(_html_table(pd.DataFrame({"seconds or count": rows}), "Sweep timings"))
    if len(failed):
        cols = [c for c in ("point", *axes, "status", "error") if c in df]
        out.append(_html_table(failed[cols].set_index("point"),
                               f"Failed points ({len(failed)})", left=True))
    else:
        out.append("<p>No point failed.</p>")
    ok = df[df["status"] == Status.OK]
    diag = [c for c in df if c.startswith(DIAGNOSTIC_PREFIX)]
    if len(ok) and diag:
        values = ok[diag].apply(pd.to_numeric, errors="coerce")
        spread = pd.DataFrame({"min": values.min(), "median": values.median(),
                               "max": values.max()})
        spread.index = [c.removeprefix(DIAGNOSTIC_PREFIX) for c in diag]
        out.append(_html_table(spread, "Diagnostics over the solved points (Euler errors "
                               "in log10, residuals, iteration counts)"))
    cols = [c for c in ("point", *axes, "status", "warm_start", "cold_retry", "n_iter",
                        "t_solve", "t_eval", "attempts") if c in df]
    per_point = df[cols].astype(object).copy()
    for c in (*axes, "n_iter", "attempts"):  # as in the spec; counts as integers
        if c in per_point:
            per_point[c] = per_point[c].map(format_axis_value if c in axes else _count)
    per_point = per_point.set_index("point") if "point" in cols else per_point
    more = len(per_point) - MAX_POINT_ROWS
    out.append(_html_table(per_point.head(MAX_POINT_ROWS), "Points: status, warm start, "
                           "iterations, seconds solving (t_solve) and evaluating (t_eval)"))
    if more > 0:
        out.append(f"<p class='note'>{more} more points in results.csv.</p>")
    return "\n".join(out)


def _html_table(table: pd.DataFrame, title: str, left: bool = False) -> str:
    """``title`` and ``table`` as HTML: numbers with 4 significant digits, axis values as
    in the spec; text (errors) escaped by pandas."""
    shown = table.map(_cell)
    shown.index = _labels(shown.index)
    shown.columns = _labels(shown.columns)
    text = shown.to_html(escape=True, border=0, na_rep="n/a", justify="center")
    style = " style='text-align:left'" if left else ""
    return f"<h3>{html.escape(title)}</h3>\n" + text.replace("<table", f"<table{style}", 1)


def _labels(index: pd.Index) -> pd.Index:
    """Index or column labels as the spec writes them (0.2, 1), names kept."""
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([[format_axis_value(v) for v in level]
                                 for level in index.levels])
    return pd.Index([format_axis_value(v) for v in index], name=index.name)


def _count(value: Any) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):  # nan, None
        return ""


def _cell(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format_number(value)
    return "" if value is None else str(value)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _spec_tracking_uri(out_dir: Path) -> str | None:
    try:
        spec = yaml.safe_load(_read(out_dir / "spec.yaml")) or {}
        uri = (spec.get("tracking") or {}).get("tracking_uri")
    except (yaml.YAMLError, AttributeError):
        return None
    return str(uri) if uri else None
