"""Points of a sweep: expansion of the axes, content hashes, continuation chains.

A point is one economy: the baseline params with the axis values of one grid
cell and zip row, optionally after a region shock. Its ``key`` hashes the model
name, the params, the numerics, the seed and the hetspace version, so the
result store is content addressed: the same economy is never solved twice.

Chains order the points so that each solve starts from a nearby steady state:
a greedy nearest-neighbour tour in normalised parameter space (each axis
scaled to [0, 1]; a shock of size s at location l adds s / max|s| on
dimension l) that walks grid rows back and forth, cut into contiguous pieces,
one per actor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hetspace._version import __version__
from hetspace.core.errors import InvalidParamsError
from hetspace.core.protocol import ModelSpec

from .axes import Design, cells, column

#: Above this many points the chain order is the spec's own (grid) order, not a tour.
MAX_TOUR_POINTS = 5000
MAX_PROBLEMS = 20
#: distances (squared) and directions equal up to this count as equal in the tour
TIE = 1e-3


@dataclasses.dataclass(frozen=True, slots=True)
class Shock:
    """A region shock: relative change ``size`` (-0.01 is -1%) in location ``location``."""

    location: int
    size: float


@dataclasses.dataclass(frozen=True, slots=True)
class Dynamics:
    """A sweep's ``dynamics`` section: each shocked point also reports the transition
    from its unshocked economy to its own steady state (``ModelSpec.dynamics``), over
    ``horizon`` periods, with statistics at periods ``at``. On a point, ``base`` is
    the unshocked params and ``location`` the shocked location."""

    horizon: int
    at: tuple[int, ...]
    base: Any = None
    location: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One economy of the sweep. values: axis -> value; coords: normalised position;
    dynamics: the transition it also reports (shocked points of a sweep with a
    ``dynamics`` section; None otherwise)."""

    index: int
    values: Mapping[str, Any]
    shock: Shock | None
    params: Any
    key: str
    seed: int
    coords: tuple[float, ...]
    dynamics: Dynamics | None = None

    def labels(self) -> dict[str, Any]:
        """Axis values, shock (label 'none' or 'loc 3 -0.01'), shock_location, shock_size."""
        out = dict(self.values)
        out["shock"] = "none" if self.shock is None else \
            f"loc {self.shock.location} {self.shock.size:+g}"
        out["shock_location"] = None if self.shock is None else self.shock.location
        out["shock_size"] = 0.0 if self.shock is None else self.shock.size
        return out


def point_key(model: str, params: Any, numerics: Any, seed: int,
              version: str = __version__, dynamics: Dynamics | None = None) -> str:
    """sha256 of (model, params, numerics, seed, code version and, when the point
    reports a transition, its horizon and periods): the point's identity."""
    parts = [model, params.fingerprint(), numerics.fingerprint(), seed, version]
    if dynamics is not None:
        parts.append([dynamics.horizon, list(dynamics.at)])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def axis_fields(params_type: type, params: Any = None) -> list[str]:
    """The names a sweep axis may take: the Params fields, with a field that holds a
    record of its own (CDP's ``structure``) replaced by its fields, dotted
    (``structure.nu``). The records are found in ``params`` (the baseline); without
    it, top-level names only."""
    out = []
    for f in dataclasses.fields(params_type):
        value = None if params is None else getattr(params, f.name, None)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out += [f"{f.name}.{sub}" for sub in axis_fields(type(value), value)]
        else:
            out.append(f.name)
    return out


def with_values(params: Any, values: Mapping[str, Any]) -> Any:
    """``params`` with the axis ``values`` set, dotted names inside nested records
    (each record validated by its own ``with_``)."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[name] = value
    for head, sub in nested.items():
        top[head] = with_values(getattr(params, head), sub)
    return params.with_(**top)


def expand_points(model: ModelSpec, params: Any, numerics: Any, designs: Sequence[Design],
                  shocks: Sequence[Shock], include_unshocked: bool, seed: int,
                  report: Callable[[tuple, str], None],
                  dynamics: Dynamics | None = None) -> tuple[Point, ...]:
    """Every point in spec order; each Params is built (and so validated) here.
    Shocked points carry ``dynamics`` (with their unshocked params and location).

    ``report(path, text)`` receives one problem per violated condition, named by
    the axis value that causes it (``("grid", "gamma", 2)``).
    """
    all_cells = list(cells(designs))
    failures: dict[tuple, list[str]] = {}
    built: list[tuple[dict, Any]] = []
    for where, values in all_cells:
        try:
            built.append((values, with_values(params, values) if values else params))
        except InvalidParamsError as e:
            for v in e.violations:
                path = _violation_path(v.field, where, designs)
                failures.setdefault((path, str(v)[len(v.field) + 2:]), []).append(_desc(values))
    _report_failures(failures, len(all_cells), designs, report)
    if failures:
        return ()
    variants: list[Shock | None] = ([None] if include_unshocked or not shocks else [])
    variants += list(shocks)
    raw = []
    for values, base in built:
        for shock in variants:
            shocked = _shocked(model, base, shock, shocks, report)
            if shocked is not None:
                dyn = None if shock is None or dynamics is None else dataclasses.replace(
                    dynamics, base=base, location=shock.location)
                raw.append((values, shock, shocked, dyn))
    coords = _coordinates(raw, designs, shocks)
    return tuple(
        Point(index=i, values=values, shock=shock, params=p, seed=seed,
              coords=tuple(float(c) for c in coords[i]), dynamics=dyn,
              key=point_key(model.name, p, numerics, seed, dynamics=dyn))
        for i, (values, shock, p, dyn) in enumerate(raw))


def order_chains(points: Sequence[Point], n_chains: int) -> list[list[Point]]:
    """Cut a nearest-neighbour tour of ``points`` into ``n_chains`` contiguous chains."""
    if not points:
        return []
    tour = _tour(points) if len(points) <= MAX_TOUR_POINTS else list(points)
    n_chains = max(1, min(n_chains, len(tour)))
    bounds = np.linspace(0, len(tour), n_chains + 1).round().astype(int)
    return [tour[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _tour(points: Sequence[Point]) -> list[Point]:
    """Greedy nearest-neighbour tour; ties go to the step along the latest run.

    A run is two equal steps in a row. Among the free points at the smallest
    distance (up to rounding), the tour takes the step most parallel to the
    latest run's direction, then the most forward one: on an evenly spaced grid
    that walks rows back and forth (a snake), so most points lie on the line
    through the two before them, which lets actors extrapolate their warm start
    (``SteadyStateActor``); plain index order would zigzag across rows.
    """
    x = np.array([p.coords for p in points], dtype=float).reshape(len(points), -1)
    free = np.ones(len(points), dtype=bool)
    current = int(np.lexsort(x.T[::-1])[0]) if x.shape[1] else 0
    order = [current]
    free[current] = False
    last = run = None  # unit directions of the latest step and the latest run
    for _ in range(len(points) - 1):
        d = np.sum((x - x[current]) ** 2, axis=1)
        d[~free] = np.inf
        ties = np.flatnonzero(d <= d.min() * (1.0 + TIE))
        nxt = int(ties[0])
        if len(ties) > 1 and last is not None and d.min() > 0.0:
            steps = (x[ties] - x[current]) / np.sqrt(d[ties])[:, None]
            along = run if run is not None else last
            nxt = int(ties[np.lexsort((-(steps @ last), -np.abs(steps @ along)))[0]])
        step = x[nxt] - x[current]
        length = float(np.linalg.norm(step))
        if length > 0.0:
            unit_step = step / length
            if last is not None and np.allclose(unit_step, last, atol=TIE):
                run = unit_step
            last = unit_step
        current = nxt
        order.append(current)
        free[current] = False
    return [points[i] for i in order]


def _violation_path(field: str, where: dict, designs: Sequence[Design]) -> tuple:
    base = field.split("[")[0]
    # a nested record names its own field: "nu" for the axis "structure.nu"
    axis = next((a for a in where if a == base or a.endswith("." + base)), None)
    if axis is not None:
        section, i = where[axis]
        return (section, axis, i)
    return (designs[0].key,) if designs else ("baseline",)


def _report_failures(failures: dict, n_cells: int, designs: Sequence[Design], report) -> None:
    for n, ((path, text), where) in enumerate(failures.items()):
        if n == MAX_PROBLEMS:
            report((path[0],), f"... and {len(failures) - n} more problems")
            return
        sharing = n_cells // len(column(designs, path[1])) if len(path) == 3 else n_cells
        if len(where) == sharing and len(path) == 3:
            report(path, text)
        else:
            more = f" and {len(where) - 1} more points" if len(where) > 1 else ""
            report(path, f"{text} (at {where[0]}{more})")


def _shocked(model: ModelSpec, base: Any, shock: Shock | None, shocks: Sequence[Shock], report):
    if shock is None:
        return base
    try:
        return model.region_shock(base, shock.location, shock.size)
    except InvalidParamsError as e:
        for v in e.violations:
            key = "locations" if v.field == "location" else "sizes"
            values = sorted({s.location if key == "locations" else s.size for s in shocks})
            wanted = shock.location if key == "locations" else shock.size
            report(("shocks", key, values.index(wanted)), str(v)[len(v.field) + 2:])
    return None


def _coordinates(raw: list, designs: Sequence[Design], shocks: Sequence[Shock]) -> np.ndarray:
    cols = []
    for axis, values in ((a, v) for d in designs for a, v in d.columns.items()):
        cols.append(np.array([_scaled(vals[axis], values) for vals, *_ in raw]))
    if shocks:
        locations = sorted({s.location for s in shocks})
        scale = max(abs(s.size) for s in shocks) or 1.0
        for loc in locations:
            cols.append(np.array([0.0 if s is None or s.location != loc else s.size / scale
                                  for _, s, *_ in raw]))
    if not cols:
        return np.zeros((len(raw), 0))
    return np.column_stack(cols)


def _scaled(value: Any, values: Sequence) -> float:
    """Position of value among the axis values, scaled to [0, 1] (numbers by value)."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi = min(values), max(values)
        return 0.0 if hi == lo else (float(value) - lo) / (hi - lo)
    n = len(values) - 1
    return 0.0 if n == 0 else list(values).index(value) / n


def _desc(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "the baseline"
