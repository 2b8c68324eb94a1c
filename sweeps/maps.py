"""Maps of a by-location moment of one sweep point: locations at their coordinates.

A sweep stores the workhorse's arrays by location with every point (``l_``
columns of the results, from ``Solution.by_location()``), and
:func:`~hetspace.sweeps.effects.add_shock_effects` turns those of a shocked
point and its unshocked sibling into changes at every location
(``l_population_change``, ``l_welfare_change``). A map draws one such array
over the locations' coordinates, which the baseline model config names
(``locations: {name: [latitude, longitude]}``) and the sweep copies into
``sweep.json``. matplotlib only: a scatter at (longitude, latitude), marker
colour the value (a diverging scale centred on zero for changes), marker area
the location's population share, each location labelled with its name and value;
the shocked location is ringed. No map projection beyond stretching longitude by
1 / cos(mean latitude), no borders: a sketch to read, not a cartographic product.

Which point: by default the first solved point that has the moment (for a change,
the first shocked point); ``at`` picks others by axis values
(``{"theta": "0.5", "gamma": "2"}``). The title names the shock and the values of
the varying axes at that point.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetspace.core.config import atomic_write
from hetspace.core.errors import InvalidConfigError
from hetspace.core.locations import Location, parse_locations
from hetspace.core.moment_info import MomentInfo

from .actors import Status
from .display import Display, format_axis_value, format_number
from .effects import LOCATION_EFFECTS, add_shock_effects
from .store import LOCATION_PREFIX, load_results
from .tables import META_FILE, display_from_meta, read_meta, varying_axes

#: labels of the changes by location (relative changes shown in %)
MAP_INFO = {
    "population_change": MomentInfo("Population change", "%", "percent"),
    "welfare_change": MomentInfo("Newborn welfare change", "CE %", "percent"),
}
#: above this many locations, labels carry the names only
MANY = 15
#: the maps a sweep draws by itself when it has region shocks and coordinates
DEFAULT_MAPS = ("population_change", "welfare_change")


def map_from_dir(out_dir: str | os.PathLike[str], moment: str,
                 at: Mapping[str, str] | None = None) -> list[Path]:
    """Draw the map of ``moment`` for the sweep in ``out_dir`` into
    plots/map_<moment>[_<at>].{png,pdf}; returns [png, pdf]."""
    meta = read_meta(out_dir)
    df = add_shock_effects(load_results(out_dir), meta["axes"])
    return write_map(Path(out_dir), df, meta, moment, at)


def write_map(out_dir: Path, df: pd.DataFrame, meta: Mapping[str, Any], moment: str,
              at: Mapping[str, str] | None = None) -> list[Path]:
    """:func:`map_figure` saved as PNG and PDF under ``out_dir/plots``."""
    fig = map_figure(df, meta, moment, at, display_from_meta(meta))
    suffix = "".join(f"_{k}{v}" for k, v in (at or {}).items())
    stem = _safe(f"map_{moment}{suffix}")
    paths = []
    for kind in ("png", "pdf"):
        paths.append(atomic_write(out_dir / "plots" / f"{stem}.{kind}", lambda fh, k=kind:
                                  fig.savefig(fh, format=k, dpi=110, bbox_inches="tight")))
    return paths


def map_figure(df: pd.DataFrame, meta: Mapping[str, Any], moment: str,
               at: Mapping[str, str] | None = None, display: Display | None = None):
    """A matplotlib Figure: ``moment`` by location at one point (see the module doc)."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    display = display or Display()
    locations = locations_of(meta)
    column = _column(df, moment)
    row = _choose_row(df, meta, column, at)
    info = MAP_INFO.get(moment) or display.moment(moment)
    values = np.array([display.value(moment, v) if moment not in MAP_INFO
                       else info.display(v) for v in row[column]], dtype=float)
    if len(values) != len(locations):
        raise InvalidConfigError(str(META_FILE), [
            f"locations: names {len(locations)} locations, the results have {len(values)}"])
    lat = np.array([loc.lat for loc in locations])
    lon = np.array([loc.lon for loc in locations])
    size = _sizes(row, len(locations))
    fig = Figure(figsize=_figure_size(lat, lon))
    ax = fig.subplots()
    change = moment in MAP_INFO
    span = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    norm = TwoSlopeNorm(0.0, -span or -1.0, span or 1.0) if change else None
    dots = ax.scatter(lon, lat, c=values, s=size, cmap="RdBu" if change else "viridis",
                      norm=norm, edgecolors="0.3", linewidths=0.6, zorder=2)
    shocked = _shocked_location(row)
    if shocked is not None and shocked < len(locations):
        ax.scatter(lon[shocked], lat[shocked], s=size[shocked] * 1.8, facecolors="none",
                   edgecolors="black", linewidths=1.6, zorder=3)
        ring = Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                      markeredgecolor="black", markersize=10, label="shocked location")
        ax.legend(handles=[ring], loc="best", fontsize="small", framealpha=0.8)
    many = len(locations) > MANY  # then names only: the colour gives the value
    for loc, x, y, v, s in zip(locations, lon, lat, values, size, strict=True):
        text = loc.name if many else f"{loc.name} {format_number(v, 3)}"
        ax.annotate(text, (x, y), xytext=(np.sqrt(s) / 2 + 2, 0), textcoords="offset points",
                    fontsize=6.5 if many else 8, va="center", zorder=4)
    fig.colorbar(dots, ax=ax, shrink=0.8, pad=0.06, label=info.header())
    ax.set_aspect(1.0 / math.cos(math.radians(float(np.mean(lat)))))
    ax.margins(x=0.2, y=0.12)  # room for the labels right of the markers
    ax.grid(True, linewidth=0.4, alpha=0.5, zorder=0)
    ax.set(xlabel="Longitude (degrees east)", ylabel="Latitude (degrees north)",
           title=f"{info.label} by location\n{_point_text(row, df, meta, display, locations)}")
    ax.text(1.0, -0.14, "marker area: population share", transform=ax.transAxes, ha="right",
            va="top", fontsize=7, color="0.35")
    return fig


def locations_of(meta: Mapping[str, Any]) -> tuple[Location, ...]:
    """The sweep's locations (``sweep.json``); an error that says how to add them."""
    raw = meta.get("locations") or []
    locations, problems = parse_locations(raw, "sweep.json locations") if raw else ((), [])
    if problems or not locations:
        raise InvalidConfigError(META_FILE, problems or [
            "the sweep has no location coordinates: give its baseline model config a "
            "`locations:` mapping (name: [latitude, longitude], one per location) and run "
            "the sweep again (stored points are not solved again)"])
    return locations


def map_moments(df: pd.DataFrame) -> list[str]:
    """The moments a map can show: the ``l_`` columns of ``df`` (after the shock effects)."""
    return [c.removeprefix(LOCATION_PREFIX) for c in df if c.startswith(LOCATION_PREFIX)]


def _column(df: pd.DataFrame, moment: str) -> str:
    column = LOCATION_PREFIX + moment
    if column not in df:
        known = ", ".join(map_moments(df)) or "none (the model stores no arrays by location)"
        hint = (" (a change needs a sweep with region shocks and the unshocked economy)"
                if moment in LOCATION_EFFECTS else "")
        raise InvalidConfigError("--map", [f"{moment!r} is not a moment by location of this "
                                           f"sweep{hint}; it has: {known}"])
    return column


def _choose_row(df: pd.DataFrame, meta: Mapping[str, Any], column: str,
                at: Mapping[str, str] | None) -> pd.Series:
    rows = df[(df["status"] == Status.OK) & df[column].map(lambda v: v is not None)]
    for axis, wanted in (at or {}).items():
        if axis not in df:
            raise InvalidConfigError("--at", [f"{axis!r} is not an axis of this sweep; its "
                                              f"axes: {', '.join(meta['axes'])}"])
        rows = rows[rows[axis].map(lambda v, w=wanted: _same(v, w))]
    if rows.empty:
        where = ", ".join(f"{k} = {v}" for k, v in (at or {}).items())
        raise InvalidConfigError("--map", [f"no solved point has {column.removeprefix('l_')}"
                                           + (f" at {where}" if where else "")])
    return rows.iloc[0]


def _same(value: Any, wanted: str) -> bool:
    if format_axis_value(value) == wanted or str(value) == wanted:
        return True
    try:
        return math.isclose(float(value), float(wanted), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return False


def _sizes(row: pd.Series, n: int) -> np.ndarray:
    """Marker areas (points^2): by population share, smaller when there are many."""
    largest = 1400.0 * min(1.0, 12.0 / n)
    shares = row.get(LOCATION_PREFIX + "population_share")
    if shares is None or len(shares) != n:
        return np.full(n, 0.3 * largest)
    s = np.asarray(shares, dtype=float)
    return 0.05 * largest + largest * s / max(float(s.max()), 1e-12)


def _figure_size(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """Inches: wider for a wide region, the height following its shape on the page."""
    span_x = max(float(np.ptp(lon)) * math.cos(math.radians(float(np.mean(lat)))), 1.0)
    width = 6.4 if span_x < 15.0 else 9.0
    return width, min(max(0.6 * width * float(np.ptp(lat)) / span_x + 1.8, 4.0), 9.0)


def _shocked_location(row: pd.Series) -> int | None:
    loc = row.get("shock_location")
    if row.get("shock", "none") == "none" or loc is None or loc != loc:
        return None
    return int(float(loc))


def _point_text(row: pd.Series, df: pd.DataFrame, meta: Mapping[str, Any],
                display: Display, locations: Sequence[Location]) -> str:
    parts = []
    shocked = _shocked_location(row)
    if shocked is not None:
        name = locations[shocked].name if shocked < len(locations) else f"location {shocked}"
        parts.append(f"after a {100.0 * float(row['shock_size']):+g}% productivity shock "
                     f"to {name}")
    axes = [a for a in varying_axes(df, meta["axes"]) if a != "shock"]
    held = ", ".join(f"{display.axis(a).label} = {format_axis_value(row[a])}" for a in axes)
    return "\n".join([*parts, *([held] if held else [])]) or "baseline"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def plot_maps(out_dir: Path, df: pd.DataFrame, meta: Mapping[str, Any],
              moments: Sequence[str] = DEFAULT_MAPS) -> list[Path]:
    """The default maps a sweep draws (PNG paths), when it has coordinates and the moments."""
    if not meta.get("locations"):
        return []
    return [write_map(out_dir, df, meta, m)[0] for m in moments
            if LOCATION_PREFIX + m in df and df[LOCATION_PREFIX + m].map(
                lambda v: v is not None).any()]
