"""Estimation specs: model, free parameters, targets, method, budget (DESIGN.md section 4).

YAML (``load_estimation_spec``) or a Python mapping (``EstimationSpec.from_dict``)::

    kind: model                              # the default; earnings_process: see
                                             # hetspace.estimation.earnings_spec
    name: huggett_calibration
    model: incomplete_markets
    baseline: {config: ../models/x.yaml}     # or {params: {...}, numerics: {...}}
    numerics: {n_a: 120}                     # overrides of the baseline numerics
    parameters:                              # free Params fields (scalars)
      beta: {lower: 0.99, upper: 0.999, transform: logit}   # none | log | logit
      a_low: {lower: -4.0, upper: -0.5}
    targets:
      moments: {r: 0.0033, mpc_mean: 0.12}   # data moments (or a list of names with a source)
      weighting: identity                    # identity | diagonal | optimal | matrix
      covariance: [[...]]                    # Omega of the data moments (diagonal/optimal)
      matrix: [[...]]                        # W itself (weighting: matrix)
      # at most one source of the values of a list of names:
      data: {params: {gamma: 2.0}, seed: 99} # synthetic data: the model at these params
      panel: {path: panel.parquet, covariance: bootstrap, n_bootstrap: 500, seed: 0}
                                             # a household panel file: simulation.statistics
                                             # of the data, Omega by a household bootstrap
      spatial: {directory: data/}            # SpatialData files (or {dataset: synthetic_us48},
                                             # or {trade, migration, locations}): location moments
    method: smm                              # smm | indirect_inference
    simulation: {statistics: panel_moments, n_households: 1000, n_periods: 20,
                 burn_in: 0, n_sims: 1, seed: 0}   # absent: analytic steady-state moments
                                             # statistics: model = the model's own simulated
                                             # statistics (ModelSpec.simulate; n_households
                                             # agents, no n_periods/burn_in): the default
                                             # for a model that has the hook
    optimizer: {n_trials: 40, sampler: tpe, polish: true, n_startup_trials: 10}
    resources: {num_actors: 2, cpus_per_actor: 1}
    tracking: {experiment: null, tracking_uri: null}
    seed: 0
    debug: {sleep: 0.0}                      # test hook: each evaluation first waits

With ``panel``, simulated panels default to the data panel's size
(n_households x n_periods). Sources are read, and their statistics computed,
once when the spec is built (:mod:`hetspace.estimation.targets`).

Validation builds the model's Params at both bounds of every free parameter
and solves the baseline once to check that every target is a (finite) moment
the model produces. All problems are raised together as one
``InvalidConfigError`` naming paths (``line 9: estimation.parameters.beta.upper: ...``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hetspace.core.config import did_you_mean
from hetspace.core.errors import InvalidParamsError
from hetspace.core.protocol import ModelSpec
from hetspace.sweeps.spec import (
    Problems,
    check_keys,
    check_resources,
    check_tracking,
    debug_sleep,
    read_spec,
    spec_baseline,
    spec_model,
    spec_name,
    spec_section,
    spec_seed,
)

from .earnings_spec import KIND as EARNINGS_KIND
from .earnings_spec import EarningsSpec, build_earnings_spec
from .objective import MODEL_STATISTICS, STATISTICS, Objective, Simulation
from .targets import KEYS as TARGET_KEYS
from .targets import SOURCES, PanelSource, parse_targets, read_panel_source
from .transforms import Parameter

TOP_LEVEL_KEYS = ("kind", "name", "description", "model", "baseline", "numerics", "parameters",
                  "targets", "method", "simulation", "optimizer", "resources", "tracking", "seed",
                  "debug")
#: What a spec estimates: ``model`` (the default: a registered model's parameters by SMM
#: or indirect inference, this module) or ``earnings_process`` (the GMM of the
#: Huggett-Kaplan earnings process on a panel, :mod:`hetspace.estimation.earnings_spec`).
KINDS = ("model", EARNINGS_KIND)
METHODS = ("smm", "indirect_inference")
SAMPLERS = ("tpe", "cmaes")
_SECTIONS = {
    "baseline": ("config", "params", "numerics"),
    "targets": TARGET_KEYS,
    "simulation": tuple(f.name for f in dataclasses.fields(Simulation)),
    "optimizer": ("n_trials", "sampler", "polish", "n_startup_trials"),
    "resources": ("num_actors", "cpus_per_actor"),
    "tracking": ("experiment", "tracking_uri"),
    "debug": ("sleep",),
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Optimizer:
    """n_trials: completed Optuna trials wanted; sampler: tpe (constant liar) or cmaes
    (population = number of actors); polish: least squares from the best trial;
    depth: trials in flight per actor (one solving, the others queued behind it, so
    that the driver's tell and ask overlap a solve; 1: none queued)."""

    n_trials: int = 40
    sampler: str = "tpe"
    polish: bool = True
    n_startup_trials: int = 10
    depth: int = 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EstimationSpec:
    """A validated estimation. ``objective`` holds target names, data moments and W;
    ``covariance`` is Omega of the data moments (None: unknown, estimated by simulation
    at the optimum when moments are simulated); ``simulation`` None means analytic moments."""

    name: str
    model: ModelSpec
    params: Any
    numerics: Any
    parameters: tuple[Parameter, ...]
    objective: Objective
    covariance: np.ndarray | None
    method: str
    simulation: Simulation | None
    optimizer: Optimizer
    num_actors: int | None
    cpus_per_actor: int
    experiment: str | None
    tracking_uri: str | None
    seed: int
    sleep: float
    description: str
    raw: Mapping[str, Any]
    source: str
    #: (n_periods, n_households) of the data panel the targets come from, if any
    data_shape: tuple[int, int] | None = None

    def effective_simulations(self) -> float | None:
        """S scaled to data-sized panels: S n_sim / n_data (observations = households x
        periods), so the simulation correction 1 + 1/that is 1 + n_data / (S n_sim);
        S when the data's size is unknown (taken equal to one simulated panel's).
        None for analytic moments."""
        sim = self.simulation
        if sim is None:
            return None
        return float(sim.n_sims) / self.data_to_simulated()

    def data_to_simulated(self) -> float:
        """n_data / n_sim: observations in the data panel over those in one simulated
        panel (1 when no data panel is given or moments are analytic)."""
        if self.simulation is None or self.data_shape is None:
            return 1.0
        T, H = self.data_shape
        return T * H / (self.simulation.n_periods * self.simulation.n_households)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def params_at(self, x) -> Any:
        """The model's Params with the free parameters at natural values ``x``."""
        return self.params.with_(**{p.name: float(v) for p, v in zip(self.parameters, x,
                                                                      strict=True)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str] = ".",
                  source: str = "<estimation spec>") -> EstimationSpec:
        """Validate ``data`` (the YAML structure; baseline params may be Params objects)."""
        return _build(dict(data), Path(base_dir), source, Problems(None, "estimation"))


def load_estimation_spec(path: str | os.PathLike[str]) -> EstimationSpec:
    """Load and validate the spec at ``path``; ``InvalidConfigError`` lists every problem."""
    return _build(*read_spec(path, TOP_LEVEL_KEYS, "estimation"))


def load_spec(path: str | os.PathLike[str]) -> EstimationSpec | EarningsSpec:
    """The spec at ``path`` by its ``kind`` (``KINDS``): an ``EarningsSpec`` for
    ``kind: earnings_process``, else an ``EstimationSpec`` (what ``hetspace estimate``
    runs); ``InvalidConfigError`` lists every problem."""
    data, base_dir, source, problems = read_spec(path, TOP_LEVEL_KEYS, "estimation")
    if data.get("kind") == EARNINGS_KIND:
        return build_earnings_spec(data, base_dir, source, problems)
    return _build(data, base_dir, source, problems)


def _build(data: dict, base_dir: Path, source: str, problems: Problems) -> EstimationSpec:
    if _check_kind(data.get("kind", "model"), problems):
        problems.raise_if_any(source)  # (its other keys would only add noise)
    check_keys(data, TOP_LEVEL_KEYS, (), problems)
    name, model = spec_name(data, problems), spec_model(data, problems)
    sec = {k: spec_section(data, k, problems, _SECTIONS) for k in _SECTIONS}
    params, numerics, _ = (None, None, ()) if model is None else spec_baseline(
        model, sec["baseline"], data.get("numerics"), base_dir, problems)
    parameters = _parameters(data.get("parameters"), model, params, problems)
    method = _choice(data.get("method", "smm"), METHODS, ("method",), problems)
    panel = read_panel_source(sec["targets"], sec["simulation"], "simulation" in data, base_dir,
                              problems)
    sim = _simulation(sec["simulation"], "simulation" in data, method, panel, model, problems)
    settings = _settings(data, sec, problems)
    _check_order_condition(parameters, sec["targets"], problems)
    problems.raise_if_any(source)
    objective, cov = parse_targets(sec["targets"], model, params, numerics, sim, panel, base_dir,
                                   problems)
    problems.raise_if_any(source)
    return EstimationSpec(name=name, model=model, params=params, numerics=numerics,
                          parameters=parameters, objective=objective, covariance=cov,
                          method=method, simulation=sim, raw=dict(data), source=source,
                          data_shape=None if panel is None else tuple(panel.shape),
                          description=str(data.get("description") or ""), **settings)


def _check_kind(kind, problems) -> bool:
    """Report a kind that is not ``model``; True for an earnings_process spec."""
    if kind == EARNINGS_KIND:
        problems.add(("kind",), f"{EARNINGS_KIND} specs are not model estimations: run them "
                     "with `hetspace estimate` (hetspace.estimation.spec.load_spec, "
                     "earnings_spec.run_earnings_spec)")
        return True
    if kind not in KINDS:
        problems.add(("kind",), f"must be one of {', '.join(KINDS)}, got {kind!r}")
    return False


def _check_order_condition(parameters, targets, problems) -> None:
    """Fewer targets than free parameters cannot identify them (Q has a flat valley of
    minima: the study used to run and report one point of it as the estimate)."""
    if not isinstance(targets, Mapping):
        return  # (reported elsewhere, as are moments of the wrong shape for their source:
    moments = targets.get("moments")  # names with a data source, name: value without)
    shape = list if any(k in targets for k in SOURCES) else Mapping
    if not parameters or not isinstance(moments, shape) or not moments:
        return
    if len(moments) < len(parameters):
        names = ", ".join(p.name for p in parameters)
        problems.add(("targets", "moments"), f"{len(moments)} target(s) for {len(parameters)} "
                     f"free parameters ({names}): they cannot all be identified; target at "
                     "least as many moments as there are free parameters, or fix some")


def _choice(value, allowed, path, problems) -> str:
    if value not in allowed:
        problems.add(path, f"must be one of {', '.join(allowed)}, got {value!r}")
        return allowed[0]
    return value


def _int(body: dict, key: str, path: tuple, problems, lo: int = 1) -> None:
    v = body.get(key)
    if key in body and (isinstance(v, bool) or not isinstance(v, int) or v < lo):
        problems.add((*path, key), f"must be an integer >= {lo}, got {v!r}")


def _parameters(body, model, params, problems) -> tuple[Parameter, ...]:
    if not isinstance(body, Mapping) or not body:
        problems.add(("parameters",), "must be a non-empty mapping of Params field: "
                     f"{{lower, upper, transform}}, got {body!r}")
        return ()
    fields = [] if model is None else [f.name for f in dataclasses.fields(model.Params)]
    out = []
    for name, entry in body.items():
        path = ("parameters", name)
        if model is not None and name not in fields:
            problems.add(path, f"unknown parameter: not a field of {model.name} Params"
                         f"{did_you_mean(str(name), fields)}")
            continue
        try:
            par = Parameter.from_mapping(str(name), entry)
        except ValueError as e:
            problems.add(path, str(e))
            continue
        if params is not None:
            _check_bounds(par, params, path, problems)
        out.append(par)
    return tuple(out)


def _check_bounds(par: Parameter, params, path: tuple, problems) -> None:
    """Build the baseline Params with the parameter at each bound; report what fails.

    An array field is a free parameter only if the model's Params takes a scalar for it
    (hadsge: a scalar tau is every off-diagonal entry)."""
    value = getattr(params, par.name)
    if isinstance(value, np.ndarray):
        try:
            params.with_(**{par.name: float(par.lower)})
        except InvalidParamsError as e:
            why = "; ".join(str(v) for v in e.violations)
            problems.add(path, f"must be a scalar parameter, but {par.name} is an array of "
                         f"shape {value.shape} and {type(params).__name__} does not take "
                         f"the scalar {par.lower!r} for it ({why})")
            return
    elif isinstance(value, (bool, str)) or not isinstance(value, (int, float, type(None))):
        problems.add(path, f"must be a scalar parameter, but {par.name} is {value!r}")
        return
    for which, bound in (("lower", par.lower), ("upper", par.upper)):
        try:
            params.with_(**{par.name: float(bound)})
        except InvalidParamsError as e:
            why = "; ".join(str(v) for v in e.violations)
            problems.add((*path, which), f"bound {bound!r} is outside the valid range of "
                         f"{par.name} ({why})")


def _simulation(body: dict, given: bool, method: str, panel: PanelSource | None,
                model: ModelSpec | None, problems) -> Simulation | None:
    """The Simulation; with a data panel its size is the default panel size. Statistics
    default to the model's own (``statistics: model``) when it simulates itself
    (``ModelSpec.simulate``) and no data panel is given, else to ``panel_moments``."""
    if not given:
        if method == "indirect_inference":
            problems.add(("simulation",), "is required with method indirect_inference "
                         "(the auxiliary statistics are computed on simulated panels)")
        return None
    for key, lo in (("n_households", 2), ("n_periods", 3), ("burn_in", 0), ("n_sims", 1),
                    ("seed", 0)):
        _int(body, key, ("simulation",), problems, lo)
    own = model is not None and model.simulate is not None
    default = MODEL_STATISTICS if own and panel is None else "panel_moments"
    stat = _choice(body.get("statistics", default), (*STATISTICS, MODEL_STATISTICS),
                   ("simulation", "statistics"), problems)
    if stat == MODEL_STATISTICS:
        _check_model_simulation(body, model, own, problems)
    elif stat in STATISTICS and model is not None and model.panel is None:
        hint = f"; it simulates its own statistics: {MODEL_STATISTICS}" if own else ""
        problems.add(("simulation", "statistics"), f"{stat} needs a simulated household "
                     f"panel, and model {model.name!r} has none (no ModelSpec.panel hook)"
                     f"{hint}")
    size = {} if panel is None else dict(zip(("n_periods", "n_households"), panel.shape,
                                             strict=True))
    return Simulation(**{**size, **body, "statistics": stat}) if not problems.lines else None


def _check_model_simulation(body: dict, model: ModelSpec | None, own: bool, problems) -> None:
    """``statistics: model`` needs a model with the simulation hook, which sets its periods."""
    if model is not None and not own:
        problems.add(("simulation", "statistics"), f"model {model.name!r} does not simulate "
                     "itself (no ModelSpec.simulate hook); choose a panel statistics function "
                     f"({', '.join(STATISTICS)})")
    for key in ("n_periods", "burn_in"):
        if key in body:
            problems.add(("simulation", key), f"is set by the model with statistics: "
                         f"{MODEL_STATISTICS} (its simulation hook chooses the periods); "
                         "remove it")


def _settings(data: dict, sec: dict, problems) -> dict[str, Any]:
    opt = sec["optimizer"]
    _int(opt, "n_trials", ("optimizer",), problems)
    _int(opt, "n_startup_trials", ("optimizer",), problems, 0)
    _int(opt, "depth", ("optimizer",), problems, 1)
    _choice(opt.get("sampler", "tpe"), SAMPLERS, ("optimizer", "sampler"), problems)
    if not isinstance(opt.get("polish", True), bool):
        problems.add(("optimizer", "polish"), f"must be true or false, got {opt['polish']!r}")
    res, track = sec["resources"], sec["tracking"]
    check_resources(res, problems)
    check_tracking(track, problems)
    nap = debug_sleep(sec["debug"], problems)
    seed = spec_seed(data, problems)
    return {"optimizer": Optimizer(**opt) if not problems.lines else Optimizer(),
            "num_actors": res.get("num_actors"), "cpus_per_actor": res.get("cpus_per_actor", 1),
            "experiment": track.get("experiment"), "tracking_uri": track.get("tracking_uri"),
            "seed": seed, "sleep": float(nap)}
