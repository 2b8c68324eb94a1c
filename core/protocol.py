"""The model protocol (DESIGN.md section 2) and the registry of models.

A model is a :class:`ModelSpec`: a name, a frozen ``Params`` class, a frozen
``Numerics`` class and ``solve(params, numerics=None, warm_start=None)``
returning an immutable solution with ``converged``, ``n_iter``, ``residuals``
and ``moments()``. Models register lazily by module path so importing
``hetspace.core`` compiles nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .errors import InvalidParamsError, Violation


class Record:
    """Mixin for frozen parameter/numerics dataclasses (declare them with ``eq=False``).

    Gives ``with_(**changes)`` that rejects unknown keys, ``to_dict()`` of plain
    Python values, ``from_dict`` that rejects unknown keys, and equality, hashing
    and a stable ``fingerprint()`` based on content (arrays included).
    """

    __slots__ = ()

    def with_(self, **changes: Any):
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            owner = type(self).__name__
            raise InvalidParamsError(
                owner,
                [Violation(k, f"is not a field of {owner} (fields: {sorted(names)})", changes[k])
                 for k in unknown],
            )
        return dataclasses.replace(self, **changes)

    def with_trusted(self, **changes: Any):
        """``with_`` without validation, for a solver's internal copies whose changes are
        valid by construction (tolerances it tightens or loosens within checked
        bounds): validating a Numerics costs ~0.2 ms, as much as a household solve."""
        new = object.__new__(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(new, f.name, changes.pop(f.name, getattr(self, f.name)))
        if changes:
            raise TypeError(f"not fields of {type(self).__name__}: {sorted(changes)}")
        return new

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None):
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidParamsError(
                cls.__name__,
                [Violation(k, retired_field(cls, k)
                           or f"is not a field of {cls.__name__} (fields: {sorted(names)})",
                           data[k]) for k in unknown],
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the content; equal content, equal fingerprint."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{type(self).__qualname__}:{text}".encode()).hexdigest()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())


def retired_field(cls: type, name: str) -> str | None:
    """What replaced a field that ``cls`` no longer has (its ``RETIRED`` mapping), if any."""
    return getattr(cls, "RETIRED", {}).get(name)


def to_plain(value: Any) -> Any:
    """Arrays, numpy scalars, tuples and enums to JSON-able Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only float64 C-contiguous copy, for fields of frozen results."""
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    out.setflags(write=False)
    return out


@runtime_checkable
class Solution(Protocol):
    """What every model's solution offers."""

    converged: bool
    n_iter: int
    residuals: Mapping[str, float]

    def moments(self) -> dict[str, float]: ...

    # optional: ``diagnostics() -> dict[str, float]``, the numerical quality of the
    # solution (Euler errors, residuals), kept apart from the economics in moments();
    # sweeps record it beside the moments (else they record the numeric residuals);
    # ``by_location() -> dict[str, np.ndarray]``, (J,) arrays by location (population
    # share, welfare), which sweeps store as ``l_`` list columns for region-shock effects


def solution_arrays(sol: Any) -> dict[str, np.ndarray]:
    """The ndarray fields of a solution dataclass (what ``hetspace solve`` writes to npz)."""
    return {
        f.name: getattr(sol, f.name)
        for f in dataclasses.fields(sol)
        if isinstance(getattr(sol, f.name), np.ndarray)
    }


@dataclasses.dataclass(frozen=True, slots=True)
class ModelSpec:
    """A registered model: the classes and the solve function behind a registry name.

    ``region_shock(params, location, size) -> params`` (optional) returns the
    params of the economy after a region shock of relative ``size`` (e.g. -0.01
    for -1%) in ``location`` (an index); the sweep's ``shocks`` axis solves that
    economy as a new steady state warm-started from the unshocked one. None: the
    model does not support region shocks.

    ``extrapolate(previous, last, t) -> warm start`` (optional) guesses the solution
    at ``params(last) + t (params(last) - params(previous))`` from two solutions of
    the same numerics on a line (a sweep's chain walking a grid row, a finite
    difference); steady-state actors pass its result as ``warm_start``. It only
    sets where a solve starts, never where it ends; when the guess is unusable it
    returns ``last``. None: warm starts use the last solution.

    ``moment_info`` and ``param_info`` (optional): ``{name: MomentInfo}`` with the
    label, unit and display transform of the model's moments and of the Params
    fields sweeps vary (:mod:`hetspace.core.moment_info`); tables and plots fall
    back to the raw name.

    ``moment_names`` (optional): the names ``solve(...).moments()`` always returns, so
    that sweep and estimation specs naming a moment are checked when they load,
    before anything is solved. None: the names are known only once a point has solved
    (a sweep then checks them at its first solved point).

    ``dynamics(old, new, location, horizon, at) -> {name: float}`` (optional): statistics
    of the transition from the steady state ``old`` to ``new``, the one after a
    permanent region shock to ``location`` (``region_shock``), announced at date 0,
    over ``horizon`` periods; names ending in ``_t{h}`` are reported at each period h
    of ``at``. ``dynamics_names(at)`` lists the names it returns. None: the model
    has no transitions (a sweep's ``dynamics`` section is then refused at load).

    ``simulate(solution, n, seed) -> dict[str, float]`` (optional): statistics of one
    simulated sample of ``n`` agents (the model's unit: households, a cohort's workers)
    drawn from the solved economy with ``np.random.default_rng(seed)``: the same seed
    gives the same draws at any parameters (common random numbers), so two calls
    differ only through the solution. A sample is what a data set of ``n`` agents
    would be: estimation (``simulation: {statistics: model}``) averages such samples
    and takes their spread as the sampling noise of the data. ``simulated_names``:
    the names it always returns (NaN where a statistic is undefined at some
    parameters), checked when an estimation spec loads. None: the model simulates no
    statistics of its own.

    ``panel(solution, n_households, n_periods, seed) -> PanelArrays`` (optional): a
    simulated household panel (:class:`~hetspace.core.panel.PanelArrays`, axes
    (periods, households)) drawn with ``np.random.default_rng(seed)``, common random
    numbers as for ``simulate``. Estimation applies its panel statistics (panel moments,
    auxiliary regressions) to it and to a data panel alike. None: the model has no
    household panel (estimation then offers ``statistics: model``, given ``simulate``).

    ``observed(source, base_dir) -> {name: value}`` (optional): moments of observed data
    that ``source`` (a spec's ``targets.spatial`` mapping; paths relative to
    ``base_dir``) describes, computed by the same function as the solution's own
    moments of those names, so that an estimation compares like with like;
    ``DataSourceError`` (its ``key`` in the mapping) on a bad source.
    ``observed_names``: the names it returns. None: the model reads no observed data.
    """

    name: str
    description: str
    Params: type
    Numerics: type
    solve: Callable[..., Any]
    source: str = ""
    region_shock: Callable[[Any, int, float], Any] | None = None
    extrapolate: Callable[[Any, Any, float], Any] | None = None
    moment_info: Mapping[str, Any] | None = None
    param_info: Mapping[str, Any] | None = None
    moment_names: tuple[str, ...] | None = None
    dynamics: Callable[..., Mapping[str, float]] | None = None
    dynamics_names: Callable[[Sequence[int]], tuple[str, ...]] | None = None
    simulate: Callable[[Any, int, int], Mapping[str, float]] | None = None
    simulated_names: tuple[str, ...] | None = None
    panel: Callable[[Any, int, int, int], Any] | None = None
    observed: Callable[[Mapping[str, Any], Any], Mapping[str, float]] | None = None
    observed_names: tuple[str, ...] | None = None

    def params_from_dict(self, data: Mapping[str, Any] | None):
        return self.Params.from_dict(data)

    def numerics_from_dict(self, data: Mapping[str, Any] | None):
        return self.Numerics.from_dict(data)


class _Registry:
    """Name -> module path; the module defines ``MODEL: ModelSpec``. Imported on first use."""

    builtin: ClassVar[dict[str, str]] = {
        "armington": "hetspace.core.armington",
        "dynamic_spatial": "hetspace.core.dynamic_spatial",
        "dynamic_spatial_cdp": "hetspace.core.dynamic_spatial.cdp_model",
        "hadsge": "hetspace.core.hadsge",
        "human_capital": "hetspace.core.human_capital",
        "human_capital_benchmark": "hetspace.core.human_capital.benchmark_model",
        "incomplete_markets": "hetspace.core.incomplete_markets",
        "planner": "hetspace.core.planner",
    }

    def __init__(self) -> None:
        self._paths: dict[str, str] = dict(self.builtin)
        self._loaded: dict[str, ModelSpec] = {}

    def register(self, spec: ModelSpec) -> None:
        self._loaded[spec.name] = spec
        self._paths.setdefault(spec.name, "")

    def names(self) -> list[str]:
        return sorted(self._paths)

    def get(self, name: str) -> ModelSpec:
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._paths:
            raise KeyError(name)
        module = importlib.import_module(self._paths[name])
        spec = module.MODEL
        self._loaded[name] = spec
        return spec


REGISTRY = _Registry()


def get_model(name: str) -> ModelSpec:
    """The model registered under ``name``; ``InvalidConfigError`` names the known ones."""
    from .errors import InvalidConfigError

    try:
        return REGISTRY.get(name)
    except KeyError:
        known = ", ".join(REGISTRY.names())
        raise InvalidConfigError(f"unknown model {name!r}", [f"known models: {known}"]) from None


def list_models() -> list[str]:
    """Names of all registered models."""
    return REGISTRY.names()


def builtin_models() -> list[str]:
    """Names of the models hetspace ships (``list_models`` adds those a user registered)."""
    return sorted(_Registry.builtin)


def register_model(spec: ModelSpec) -> None:
    """Register a model defined outside hetspace (e.g. in a user's package)."""
    REGISTRY.register(spec)
