"""Sweep specs: what to solve, over which axes, with which resources (DESIGN.md section 3).

The parsing pieces that estimation specs share (``read_spec``, ``Problems``,
``check_keys``, ``spec_name``, ``spec_model``, ``spec_section``, ``spec_baseline``,
``spec_seed``, ``check_resources``, ``check_tracking``, ``debug_sleep``) are public:
imports flow one way, core <- sweeps <- estimation <- the CLI, and never reach for
another package's private names (tests/test_layering.py).

A spec is YAML (``load_sweep_spec``) or a Python mapping (``SweepSpec.from_dict``)::

    name: quickstart
    model: incomplete_markets
    baseline:                       # a model config file (relative to this spec) ...
      config: ../models/huggett.yaml
    # baseline: {params: {...}, numerics: {...}}   # ... or inline params
    grid:                           # Cartesian product; axes are Params fields (a field
                                    # of a nested record dotted: structure.nu)
      gamma: [1.0, 2.0, 3.0]
      a_low: [-2.0, -4.0]
      theta: {geomspace: [0.1, 10.0, 5]}   # a range: linspace or geomspace [start, stop, num]
    zip:                            # lists that move together (equal lengths)
      beta: [0.95, 0.96]
      theta: [1.0, 2.0]
    # sample: {design: sobol, n: 64, bounds: {theta: [0.2, 0.6]}}  # instead of grid/zip:
    #                               # a sampled design (``sensitivity``)
    shocks:                         # region shocks, solved from the unshocked steady state
      locations: [0, 3]
      sizes: [-0.01]
      include_unshocked: true
    dynamics:                       # also the transition after each shock (permanent)
      horizon: 200                  # periods T of the perfect-foresight path
      at: [1, 5, 10, 25]            # periods whose statistics are reported
    numerics: {n_a: 100}            # overrides of the baseline numerics
    moments: [r, wealth_gini]       # what tables and plots show (default: all)
    display: {periods_per_year: 6}  # model periods in a year (rates shown as annual %)
    resources: {num_actors: 2, cpus_per_actor: 1}
    tracking: {experiment: quickstart, tracking_uri: null, child_runs: false}
    seed: 0

Everything is validated at load, including the model's ``Params`` at every
point of the sweep, and all problems are raised at once as one
``InvalidConfigError`` whose lines name the path in the file
(``line 9: sweep.grid.gamma[2]: must be > 0, got -1``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hetspace.core.config import (
    Locator,
    did_you_mean,
    load_model_config,
    parse_yaml,
    read_text,
)
from hetspace.core.errors import InvalidConfigError, InvalidParamsError
from hetspace.core.locations import Location, check_count, parse_locations
from hetspace.core.moment_info import check_periods_per_year
from hetspace.core.protocol import ModelSpec, get_model, list_models

from .axes import DESIGNS, Design, Fields, Sampled, parse_designs
from .effects import effect_names
from .points import Dynamics, Point, Shock, axis_fields, expand_points
from .sensitivity import Sample
from .tracking import tracking_uri_problem

TOP_LEVEL_KEYS = ("name", "description", "model", "baseline", *(d.key for d in DESIGNS),
                  "shocks", "dynamics", "numerics", "moments", "resources", "tracking", "seed",
                  "debug", "display")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SECTION_KEYS = {
    "baseline": ("config", "params", "numerics", "locations"),
    "shocks": ("locations", "sizes", "include_unshocked"),
    "dynamics": ("horizon", "at"),
    **{d.key: d.section_keys for d in DESIGNS if d.section_keys is not None},
    "resources": ("num_actors", "cpus_per_actor"),
    "tracking": ("experiment", "tracking_uri", "child_runs"),
    "debug": ("crash_after", "sleep"),
    "display": ("periods_per_year",),
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """num_actors: None means as many as the cluster's CPUs allow; cpus_per_actor >= 1."""

    num_actors: int | None = None
    cpus_per_actor: int = 1


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Tracking:
    """MLflow: experiment (default: the sweep name), tracking_uri (default: a SQLite
    database in the output folder), child_runs (one MLflow run per point; off by default
    because each costs ~30 ms against SQLite: points are logged as a table artifact)."""

    experiment: str | None = None
    tracking_uri: str | None = None
    child_runs: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Debug:
    """Test hooks. crash_after: the first actor to reach its n-th evaluation calls
    ``os._exit`` once per output folder (a marker file records that it happened).
    sleep: seconds each evaluation waits first (to make a sweep slow enough to kill)."""

    crash_after: int | None = None
    sleep: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A validated sweep: the declaration plus what it expands to.

    ``params`` and ``numerics`` are the baseline model objects (numerics with the
    spec's overrides applied); ``points`` every point in spec order (grid product,
    then zip rows, then shocks), each with its validated params and content hash.
    Build it with :func:`load_sweep_spec` or :meth:`from_dict`.
    """

    name: str
    model: ModelSpec
    params: Any
    numerics: Any
    grid: Mapping[str, tuple]
    zip: Mapping[str, tuple]
    shocks: tuple[Shock, ...]
    include_unshocked: bool
    moments: tuple[str, ...]
    resources: Resources
    tracking: Tracking
    seed: int
    debug: Debug
    periods_per_year: float
    description: str
    points: tuple[Point, ...]
    raw: Mapping[str, Any]
    source: str
    locations: tuple[Location, ...] = ()  # names and coordinates (maps), from the baseline
    dynamics: Dynamics | None = None  # the transition shocked points also report
    sample: Sample | None = None  # the sampled design whose rows are the zip rows
    designs: tuple[Design, ...] = ()  # the sections varying Params fields (``axes``)

    @property
    def axes(self) -> tuple[str, ...]:
        """Names of the swept Params fields (grid first, then zip)."""
        return (*self.grid, *self.zip)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] = ".",
                  source: str = "<sweep spec>") -> SweepSpec:
        """Validate ``data`` (the YAML structure; baseline params may be Params objects)."""
        return _build(data, Path(base_dir), source, Problems(None))


def load_sweep_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Load and validate the sweep spec at ``path``; ``InvalidConfigError`` lists all problems."""
    return _build(*read_spec(path, TOP_LEVEL_KEYS, "sweep"))


def read_spec(path: str | os.PathLike[str], keys: tuple[str, ...], root: str):
    """Parse the YAML spec at ``path`` (whose top-level ``keys`` the error names):
    (data, its folder, source, problems naming lines and paths under ``root``)."""
    path = Path(path)
    source = str(path)
    data, node = parse_yaml(read_text(path, source), source)
    if not isinstance(data, dict):
        raise InvalidConfigError(source, ["top level must be a mapping with keys "
                                          + ", ".join(keys)])
    problems = Problems(Locator(node), root)
    problems.lines += problems.where.duplicate_keys()
    return data, path.resolve().parent, source, problems


class Problems:
    """Collects problems as ``line N: sweep.a.b[2]: text`` (``root`` in place of sweep)."""

    def __init__(self, where: Locator | None, root: str = "sweep"):
        self.where = where
        self.root = root
        self.lines: list[str] = []

    def add(self, path: tuple, text: str) -> None:
        line = self.where.line(path) if self.where is not None and path else None
        prefix = f"line {line}: " if line is not None else ""
        entry = f"{prefix}{dotted(path, self.root)}: {text}"
        if entry not in self.lines:
            self.lines.append(entry)

    def raise_if_any(self, source: str) -> None:
        if self.lines:
            raise InvalidConfigError(source, self.lines)


def dotted(path: tuple, root: str = "sweep") -> str:
    """("grid", "gamma", 2) -> "sweep.grid.gamma[2]"."""
    text = root
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


def _build(data: Mapping[str, Any], base_dir: Path, source: str, problems: Problems):
    check_keys(data, TOP_LEVEL_KEYS, (), problems)
    name = spec_name(data, problems)
    model = spec_model(data, problems)
    sections = {k: spec_section(data, k, problems) for k in _SECTION_KEYS}
    params, numerics, locations = (None, None, ()) if model is None else spec_baseline(
        model, sections["baseline"], data.get("numerics"), base_dir, problems)
    fields = None if params is None else Fields(tuple(axis_fields(model.Params, params)),
                                                   model.name)
    settings = _settings(data, sections, problems)
    designs = parse_designs(data, fields, settings["seed"], problems.add)
    shocks, include = _shocks(sections["shocks"], model, problems)
    dynamics = _dynamics(sections["dynamics"], model, bool(shocks), problems)
    if not any(key in data for key in (*(d.key for d in DESIGNS), "shocks")):
        problems.add((), f"has no axes: give {', '.join(d.key for d in DESIGNS)} or shocks "
                     "(it would solve the "
                     "baseline alone, which is `hetspace solve CONFIG`)")
    _check_moment_names(model, settings["moments"], bool(shocks), dynamics, problems)
    _check_size(designs, shocks, include, problems)
    problems.raise_if_any(source)
    points = expand_points(model, params, numerics, designs, shocks, include,
                           settings["seed"], problems.add, dynamics)
    problems.raise_if_any(source)
    by_key = {d.key: d.columns for d in designs}
    sample = next((d.sample for d in designs if isinstance(d, Sampled)), None)
    return SweepSpec(name=name, model=model, params=params, numerics=numerics,
                     grid=by_key.get("grid", {}),
                     zip={**by_key.get("zip", {}), **by_key.get("sample", {})},
                     designs=designs, shocks=shocks, include_unshocked=include, points=points,
                     dynamics=dynamics, sample=sample,
                     raw=dict(data), source=source, locations=locations,
                     description=str(data.get("description") or ""), **settings)


#: The most points a spec may expand to: each is validated at load (about 0.4 ms a
#: point), so 100 000 take tens of seconds before the first solve; split larger designs.
MAX_POINTS = 100_000


def _check_size(designs: tuple[Design, ...], shocks: tuple, include: bool, problems) -> None:
    """Refuse a spec with more than ``MAX_POINTS`` points, before building any."""
    n = math.prod(len(d) for d in designs)
    n *= len(shocks) + (1 if include or not shocks else 0)
    if n > MAX_POINTS:
        sizes = " x ".join(str(k) for d in designs for k in d.sizes())
        problems.add((designs[0].key,) if designs else ("shocks",),
                     f"expands to {n:,} points ({sizes}"
                     f"{f' x {len(shocks)} shocks' if shocks else ''}); a sweep may have at "
                     f"most {MAX_POINTS:,}: split it into several sweeps")


def spec_name(data, problems) -> str:
    """``data["name"]``: a name usable as a folder, reported otherwise."""
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.add(("name",), "must be a name of letters, digits, '_', '.', '-' "
                     f"(it names the output folder), got {name!r}")
    return name


def spec_model(data, problems) -> ModelSpec | None:
    """The registered model ``data["model"]`` names (None, reported, if none)."""
    name = data.get("model")
    if not isinstance(name, str) or name not in list_models():
        hint = did_you_mean(name, list_models()) if isinstance(name, str) else ""
        problems.add(("model",), f"unknown model {name!r}{hint}; known models: "
                     + ", ".join(list_models()))
        return None
    return get_model(name)


def check_keys(body: Mapping, allowed: tuple[str, ...], path: tuple, problems) -> None:
    """Report every key of ``body`` not in ``allowed`` (with a did-you-mean), at ``path``."""
    for k in body:
        if k not in allowed:
            problems.add((*path, k), f"unknown key{did_you_mean(str(k), allowed)}; "
                         f"known keys: {', '.join(allowed)}")


def spec_section(data, key: str, problems, sections: Mapping[str, tuple] = _SECTION_KEYS) -> dict:
    """The mapping ``data[key]`` ({} if absent), its keys checked against ``sections[key]``."""
    body = data.get(key)
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        problems.add((key,), f"must be a mapping, got {body!r}")
        return {}
    check_keys(body, sections[key], (key,), problems)
    return dict(body)


def spec_baseline(model: ModelSpec, body: dict, overrides, base_dir: Path, problems):
    """(params, numerics, locations) of a spec's ``baseline`` section (a model config
    file relative to ``base_dir``, or inline params), with numerics ``overrides``."""
    if ("config" in body) == ("params" in body):
        problems.add(("baseline",), "needs exactly one of 'config' (a model config file) "
                     "or 'params' (inline parameters)")
        return None, None, ()
    if "config" in body:
        params, numerics, locations = _baseline_file(model, body, base_dir, problems)
    else:
        locations = ()
        params = _build_record(model.Params, body["params"], ("baseline", "params"), problems)
        numerics = _build_record(model.Numerics, body.get("numerics"),
                                 ("baseline", "numerics"), problems)
    if body.get("locations") is not None:  # (beside a config file: instead of its own)
        locations = _inline_locations(body["locations"], params, problems)
    if numerics is not None and overrides is not None:
        if not isinstance(overrides, Mapping):
            problems.add(("numerics",), f"must be a mapping of field: value, got {overrides!r}")
        else:
            numerics = _with(numerics, dict(overrides), ("numerics",), problems)
    return params, numerics, locations


def _inline_locations(body, params, problems) -> tuple[Location, ...]:
    if body is None:
        return ()
    locations, found = parse_locations(body, "")
    found += check_count(locations, getattr(params, "n_loc", None), "") if not found else []
    for p in found:
        problems.add(("baseline", "locations"), p.lstrip(".: "))
    return locations


def _baseline_file(model: ModelSpec, body: dict, base_dir: Path, problems):
    if "numerics" in body:
        problems.add(("baseline", "numerics"), "goes with inline params; with a config file "
                     "use the top-level 'numerics' overrides")
    ref = body["config"]
    if not isinstance(ref, str):
        problems.add(("baseline", "config"), f"must be a file path, got {ref!r}")
        return None, None, ()
    try:
        cfg = load_model_config(base_dir / ref)
    except InvalidConfigError as e:
        for p in e.problems:
            problems.add(("baseline", "config"), f"{e.source}: {p}")
        return None, None, ()
    if cfg.model.name != model.name:
        problems.add(("baseline", "config"), f"{ref} is a {cfg.model.name!r} config, "
                     f"but the sweep's model is {model.name!r}")
        return None, None, ()
    return cfg.params, cfg.numerics, cfg.locations


def _build_record(cls: type, body, path: tuple, problems):
    if isinstance(body, cls):
        return body
    if body is not None and not isinstance(body, Mapping):
        problems.add(path, f"must be a mapping of field: value, got {body!r}")
        return None
    try:
        return cls.from_dict(body)
    except InvalidParamsError as e:
        for v in e.violations:
            problems.add((*path, *_field_path(v.field)), _violation_text(v))
    except TypeError as e:
        problems.add(path, str(e))
    return None


def _with(record, changes: dict, path: tuple, problems):
    try:
        return record.with_(**changes)
    except InvalidParamsError as e:
        for v in e.violations:
            problems.add((*path, *_field_path(v.field)), _violation_text(v))
    return None


def _field_path(field: str) -> tuple:
    """'tau[0, 1]' -> ('tau', 0, 1); 'beta*omega' -> ('beta*omega',)."""
    match = re.match(r"^([A-Za-z_]\w*)\[([\d,\s]+)\]$", field)
    if match is None:
        return (field,)
    return (match.group(1), *(int(i) for i in match.group(2).split(",")))


def _violation_text(v) -> str:
    """A Violation without its field name: 'must be > 0, got -1'."""
    return str(v)[len(v.field) + 2:]


def _shocks(body: dict, model: ModelSpec | None, problems) -> tuple[tuple[Shock, ...], bool]:
    if not body:
        return (), True
    if model is not None and model.region_shock is None:
        problems.add(("shocks",), f"region shocks are not supported by the model "
                     f"{model.name!r} (its ModelSpec has no region_shock hook yet)")
    locations = _number_list(body, "locations", int, problems)
    sizes = _number_list(body, "sizes", float, problems)
    include = body.get("include_unshocked", True)
    if not isinstance(include, bool):
        problems.add(("shocks", "include_unshocked"), f"must be true or false, got {include!r}")
    return tuple(Shock(loc, size) for loc in locations for size in sizes), include is not False


#: the longest transition a sweep may ask for (memory grows like horizon^2: at 48
#: locations, 200 periods take about 7 GB; see ``SpatialTransition``)
MAX_HORIZON = 1000


def _dynamics(body: dict, model: ModelSpec | None, shocked: bool, problems) -> Dynamics | None:
    if not body:
        return None
    if model is not None and model.dynamics is None:
        problems.add(("dynamics",), f"transitions are not supported by the model "
                     f"{model.name!r} (its ModelSpec has no dynamics hook)")
    if not shocked:
        problems.add(("dynamics",), "needs a shocks section: it reports the transition "
                     "after each region shock")
    horizon = body.get("horizon", 200)
    if isinstance(horizon, bool) or not isinstance(horizon, int) \
            or not 2 <= horizon <= MAX_HORIZON:
        problems.add(("dynamics", "horizon"), f"must be an integer from 2 to {MAX_HORIZON} "
                     f"(periods of the transition), got {horizon!r}")
        horizon = MAX_HORIZON
    at = body.get("at", [h for h in (1, 5, 10, 25, 50) if h < horizon])
    if not isinstance(at, list) or not at:
        problems.add(("dynamics", "at"), f"must be a non-empty list of periods, got {at!r}")
        at = []
    for i, h in enumerate(at):
        if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h < horizon:
            problems.add(("dynamics", "at", i), f"must be a period from 0 to horizon - 1 = "
                         f"{horizon - 1}, got {h!r}")
        elif h in at[:i]:
            problems.add(("dynamics", "at", i), f"repeats period {h}")
    return Dynamics(horizon, tuple(at))


def _number_list(body: dict, key: str, kind: type, problems) -> list:
    values = body.get(key)
    if not isinstance(values, list) or not values:
        problems.add(("shocks", key), f"must be a non-empty list, got {values!r}")
        return []
    good = []
    for i, v in enumerate(values):
        ok = isinstance(v, int) if kind is int else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok:
            what = "an integer" if kind is int else "a number"
            problems.add(("shocks", key, i), f"must be {what}, got {v!r}")
        else:
            good.append(kind(v))
    return good


def _settings(data, sections: dict, problems) -> dict[str, Any]:
    moments = data.get("moments") or []
    if not isinstance(moments, list) or not all(isinstance(m, str) and m for m in moments):
        problems.add(("moments",), f"must be a list of moment names, got {moments!r}")
        moments = []
    seed = spec_seed(data, problems)
    res, track = sections["resources"], sections["tracking"]
    check_resources(res, problems)
    check_tracking(track, problems)
    if not isinstance(track.get("child_runs", False), bool):
        problems.add(("tracking", "child_runs"), f"must be true or false, "
                     f"got {track['child_runs']!r}")
    crash = sections["debug"].get("crash_after")
    if crash is not None and (isinstance(crash, bool) or not isinstance(crash, int) or crash < 1):
        problems.add(("debug", "crash_after"), f"must be an integer >= 1, got {crash!r}")
    debug_sleep(sections["debug"], problems)
    periods = sections["display"].get("periods_per_year", 1.0)
    try:
        periods = check_periods_per_year(periods)
    except ValueError:
        problems.add(("display", "periods_per_year"), f"must be a number > 0 (model periods "
                     f"in a year: 6 for a two-month period), got {periods!r}")
        periods = 1.0
    return {"moments": tuple(moments), "seed": seed, "periods_per_year": periods,
            "resources": Resources(**res) if not problems.lines else Resources(),
            "tracking": Tracking(**track) if not problems.lines else Tracking(),
            "debug": Debug(**sections["debug"]) if not problems.lines else Debug()}


def _check_moment_names(model: ModelSpec | None, moments: tuple[str, ...], shocked: bool,
                        dynamics: Dynamics | None, problems) -> None:
    """Each of ``moments`` must be a moment of ``model`` (or, with shocks, a shock effect;
    with dynamics, a statistic of the transition); a model whose ModelSpec has no
    ``moment_names`` is checked at its first solved point."""
    if model is None or model.moment_names is None:
        return
    known = (*model.moment_names, *(effect_names() if shocked else ()))
    if dynamics is not None and model.dynamics_names is not None:
        known += model.dynamics_names(dynamics.at)
    for i, m in enumerate(moments):
        if m not in known:
            effect = "" if shocked or m not in effect_names() else \
                " (a region-shock effect: it needs a shocks section)"
            problems.add(("moments", i), f"{m!r} is not a moment of {model.name}"
                         f"{effect or did_you_mean(m, known)}; its moments: {', '.join(known)}")


def spec_seed(data, problems) -> int:
    """``data["seed"]`` (default 0), reported unless an integer >= 0; 0 if not an int."""
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.add(("seed",), f"must be an integer >= 0, got {seed!r}")
    return seed if isinstance(seed, int) else 0


def check_resources(res: dict, problems) -> None:
    """num_actors (None allowed) and cpus_per_actor, when given, must be integers >= 1."""
    for key, allow_none in (("num_actors", True), ("cpus_per_actor", False)):
        v = res.get(key)
        if (v is None and allow_none) or (key not in res and not allow_none):
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            problems.add(("resources", key), f"must be an integer >= 1, got {v!r}")


def check_tracking(track: dict, problems) -> None:
    """tracking.experiment and tracking.tracking_uri, when given, must be strings."""
    for key in ("experiment", "tracking_uri"):
        if track.get(key) is not None and not isinstance(track[key], str):
            problems.add(("tracking", key), f"must be a string, got {track[key]!r}")
    uri = track.get("tracking_uri")
    why = tracking_uri_problem(uri) if isinstance(uri, str) else None
    if why is not None:
        problems.add(("tracking", "tracking_uri"), f"{why}, got {uri!r}")


def debug_sleep(debug: dict, problems):
    """``debug.sleep`` (default 0.0), reported unless a number of seconds in [0, 60] (0.0 then)."""
    nap = debug.get("sleep", 0.0)
    if isinstance(nap, bool) or not isinstance(nap, (int, float)) or not 0 <= nap <= 60:
        problems.add(("debug", "sleep"), f"must be a number of seconds in [0, 60], got {nap!r}")
        return 0.0
    return nap
