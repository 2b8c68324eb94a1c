"""Estimation benchmarks (issue 5): cost of reaching the optimum, and a Monte Carlo of coverage.

    python benchmarks/estimation.py [--quick] [--repeat 3] [--replications 20]
        [--cases calibration,smm3-analytic,smm3-simulated] [--no-track] [--out DIR]
        [--depth 2]

Everything is measured from the records an estimation writes to its output folder:
``evaluations.csv`` (one row per model evaluation, in the order the driver got
them: phase, parameters, status, objective Q, the actor's wall-clock start
``started`` and solve time ``t_eval`` (solve plus, for SMM, the simulated
statistics), the driver's ``sent`` / ``received`` times, and ``batch``: a point
of a finite-difference Jacobian), ``trials.csv`` (one row per Optuna trial) and
the polish's record in ``inference.json``. ``--depth`` sets the Optuna trials in
flight per actor (default 2, the package's; 1 sends a trial only to an idle actor,
as before pipelining).

Part 1, time to the optimum. Three estimations of Huggett (1993) on the shipped
120-node grid, each run through ``hetspace.estimation.estimate`` with 1 and then
2 actors (same spec, same seed, ``--repeat`` times each; the table shows medians):

* ``calibration``: configs/estimation/calibration_huggett.yaml, (beta, a_low) for
  r = 2% a year and MPC = 0.06 (exactly identified). Reference: the workhorse's
  nested root finding ``calibrate_beta_and_limit`` (an independent method), Q_min = 0.
* ``smm3-analytic``: a 3-parameter recovery, (gamma, beta, a_low) from the steady
  state's r, mpc_mean and share_at_limit (SMM with analytic moments; box and
  budget of the shipped smm_recovery_huggett config plus gamma in [1, 3]); data:
  the model's own moments at the truth gamma = 2, beta = 0.985, a_low = -2.5,
  so Q_min = 0 there, and the truth is the reference.
* ``smm3-simulated``: the same three parameters from four simulated panel moments
  (consumption_log_sd, assets_mean, assets_sd, share_at_limit; 2 panels of 2000
  households x 20 periods as shipped). The data are given inline: the
  estimation's own m(theta) at the truth (``model_moments`` with its seeds, i.e.
  common random numbers), so Q_min = 0 at the truth. (``targets.data`` would draw
  one panel with another seed, the realistic case, whose minimum is not at the
  truth.) Simulated moments are step functions of theta (Young's lottery on the
  grid) and gamma and beta trade off along a ridge on which Q is ~1e-7 and
  jagged, so this case is not expected to reach the 1e-8 / 1e-4 criterion; it is
  there to show how far it gets (Q and |x - ref| at the estimate).

The optimum is reached at the first evaluation the optimiser can return (a trial,
or a single evaluation of the polish or the estimate; ``batch`` rows, the points
of a finite-difference Jacobian, do not count) with Q - Q_min <= 1e-8 and
max |x - x_ref| <= 1e-4 (natural units). "solves" counts every evaluation up to
it, failed ones and Jacobian points included; "t_opt" is wall time from the call
of ``estimate`` (actor start-up included, shown separately as "start": up to the
first solve's start). A solve occupies [started, started + t_eval] of its actor.
Over the window from the first solve's start to the optimum (target < 10%):

* ``out/cap``  = 1 - sum t_eval / (window x actors): share of the actors' capacity
  not spent solving (Ray, Optuna, scipy and the driver, plus actors left idle
  by serial steps such as the polish's residual evaluations);
* ``no-solve`` = share of the window during which no actor was solving (shown
  also per solve, "idle ms/solve", next to the median t_eval), and the same share
  within the trials' and within the polish's part of the window ("no-solve
  trials", "no-solve polish": from the phase's first start to its last row);
* ``driver ms``: median time from a row reaching the driver to the next evaluation
  leaving it (Optuna's tell and ask, the polish's step, bookkeeping; with trials
  pipelined it overlaps the actor's next solve), and ``ray ms``: median sent ->
  started plus end -> received of single evaluations (Ray's round trip; a call
  queued behind another on its actor counts from the end of that one's solve).

The polish's own record (inference.json) gives "polish nfev" / "polish njev"
(residual and Jacobian evaluations asked by least squares), "polish solves", "polish
unused" (Jacobian points sent with a residual whose step was then rejected) and
"polish s" (its wall time).

``out/cap(all)`` is out/cap over the whole call (it adds actor start-up,
inference with its 100 Omega panels, MLflow and report files), and "best trial"
is the lowest Q in trials.csv (what the global search found before the polish).

Part 2, Monte Carlo (the test
test_simulated_moments_give_standard_errors_covering_the_truth, larger): R
replications of its SMM problem ((beta, a_low) from 3 panel moments, 1000
households x 10 periods, 2 simulated panels, 12 trials, 2 actors), each with the
spec's own ``targets.data`` (one panel of the simulated size drawn at the truth,
what the standard errors assume) under another seed, and the same seeds inside
the estimation. It reports per parameter the share of replications whose
reported 95% interval covers the truth (binomial standard error
sqrt(p(1-p)/R)), the mean bias, the mean reported SE against the s.d. of the
estimates, and the J-test's rejection rate at 5%. A last line compares Q at the
estimate with Q of the best trial in trials.csv (what the least-squares polish
gained): coverage only means something if the optimiser found the minimum.

Run by hand; the cores are shared, so repeat when numbers look off (load
averages are printed at the start and the end). The default run takes 6 to 12
minutes on 2 shared cores (most of it Ray actor start-up, paid by every call of
``estimate``), ``--quick`` (1 repeat, 4 replications) 3 to 5.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hetspace.core.errors import HetspaceError
from hetspace.core.incomplete_markets.calibration import calibrate_beta_and_limit
from hetspace.core.protocol import get_model
from hetspace.estimation import EstimationSpec, estimate, load_estimation_spec
from hetspace.estimation.objective import model_moments
from hetspace.estimation.spec import Optimizer
from hetspace.sweeps.cluster import connect

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "estimation"
TOL_Q = 1e-8
TOL_X = 1e-4
SMM3_TRUTH = {"gamma": 2.0, "beta": 0.985, "a_low": -2.5}  # well identified (checked by hand)
SMM3_ANALYTIC = ["r", "mpc_mean", "share_at_limit"]
SMM3_SIMULATED = ["consumption_log_sd", "assets_mean", "assets_sd", "share_at_limit"]
MC_DATA_SEED = 50_000  # replication r draws its data with seed MC_DATA_SEED + 100 r
RETURNABLE = ("trial", "polish", "estimate")  # phases whose single evaluations count


@dataclasses.dataclass(frozen=True)
class Case:
    label: str
    spec: EstimationSpec
    x_ref: np.ndarray
    q_ref: float


# ---------------------------------------------------------------------------- cases


def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((CONFIGS / name).read_text())


def calibration_case() -> Case:
    spec = load_estimation_spec(CONFIGS / "calibration_huggett.yaml")
    target = dict(zip(spec.objective.names, spec.objective.data, strict=True))
    box = {p.name: p for p in spec.parameters}
    base = spec.params.with_(closure="partial", r=float(target["r"]), beta=0.99, a_low=-3.0)
    cal, _ = calibrate_beta_and_limit(base, spec.numerics, float(target["mpc_mean"]),
                                      beta_bracket=(box["beta"].lower, None),
                                      a_low_bracket=(box["a_low"].lower, box["a_low"].upper))
    return Case("calibration", spec, np.array([getattr(cal, n) for n in spec.names]), 0.0)


def _smm3_raw(name: str) -> dict[str, Any]:
    raw = _raw("smm_recovery_huggett.yaml")
    raw["name"] = name
    raw["parameters"] = {"gamma": {"lower": 1.0, "upper": 3.0}, **raw["parameters"]}
    return raw


def smm3_analytic_case() -> Case:
    raw = _smm3_raw("smm3_analytic")
    del raw["simulation"]
    raw["targets"] = {"moments": SMM3_ANALYTIC, "weighting": "identity",
                      "data": {"params": SMM3_TRUTH}}
    spec = EstimationSpec.from_dict(raw)
    return Case("smm3-analytic", spec, np.array([SMM3_TRUTH[n] for n in spec.names]), 0.0)


def smm3_simulated_case() -> Case:
    raw = _smm3_raw("smm3_simulated")
    base = EstimationSpec.from_dict({**raw, "name": "smm3_base"})  # for params and numerics
    truth = base.params.with_(**SMM3_TRUTH)
    sol = get_model(raw["model"]).solve(truth, numerics=base.numerics)
    own = model_moments(sol, base.simulation, base.model)  # what the actors compute
    raw["targets"] = {"moments": {n: own[n] for n in SMM3_SIMULATED}, "weighting": "identity"}
    spec = EstimationSpec.from_dict(raw)
    return Case("smm3-simulated", spec, np.array([SMM3_TRUTH[n] for n in spec.names]), 0.0)


DIAGNOSTIC = {"smm3-simulated"}  # run once whatever --repeat says
CASES = {"calibration": calibration_case, "smm3-analytic": smm3_analytic_case,
         "smm3-simulated": smm3_simulated_case}


# ---------------------------------------------------------------------------- part 1


def timed_run(case: Case, actors: int, out: Path, track: bool, depth: int) -> dict[str, Any]:
    """Run the case once; figures from the evaluations.csv, trials.csv and inference.json."""
    t0 = time.time()  # wall clock, as the records
    result = estimate(case.spec, out, num_actors=actors, track=track, depth=depth)
    wall = time.time() - t0
    ev = pd.read_csv(out / "evaluations.csv")
    trials = pd.read_csv(out / "trials.csv")
    polished = json.loads((out / "inference.json").read_text()).get("polish") or {}
    start, end = ev["started"].to_numpy() - t0, (ev["started"] + ev["t_eval"]).to_numpy() - t0
    stats = {"start": float(start.min()), "solves_all": len(ev), "wall": wall,
             "cap_all": 1.0 - ev["t_eval"].sum() / (wall * actors),
             "q_best_trial": float(trials["objective"].min()), "q_final": result.objective,
             "dx_final": float(np.max(np.abs(np.array(list(result.estimates.values()))
                                                 - case.x_ref))),
             **{f"polish_{k}": float(polished.get(k, np.nan))
                for k in ("nfev", "njev", "wasted", "solves", "seconds")}}
    i = _first_reached(case, ev)
    if i is None:
        return {**stats, "reached": False}
    upto = ev.iloc[: i + 1]
    t_opt = float(upto["received"].iloc[-1] - t0)
    window = t_opt - stats["start"]
    busy = _union(start[: i + 1], np.minimum(end[: i + 1], t_opt))
    return {**stats, "reached": True, "solves": i + 1, "t_opt": t_opt,
            "cap": 1.0 - upto["t_eval"].sum() / (window * actors),
            "no_solve": 1.0 - busy / window, "idle_ms": 1000.0 * (window - busy) / (i + 1),
            **{f"no_solve_{ph}": _no_solve(upto, ph, t0, t_opt) for ph in ("trial", "polish")},
            "t_eval_ms": 1000.0 * float(upto["t_eval"].median()),
            "driver_ms": _driver_ms(upto), "ray_ms": _ray_ms(upto),
            "phase": str(ev["phase"].iloc[i])}


def _no_solve(ev: pd.DataFrame, phase: str, t0: float, t_opt: float) -> float:
    """Share of one phase's span (its first start .. its last row, up to t_opt) with no solve."""
    rows = ev[ev["phase"] == phase]
    if rows.empty:
        return float("nan")
    begin = float(rows["started"].min() - t0)
    stop = min(float(rows["received"].max() - t0), t_opt)
    s = rows["started"].to_numpy() - t0
    e = np.minimum(s + rows["t_eval"].to_numpy(), stop)
    return 1.0 - _union(s, e) / (stop - begin) if stop > begin else float("nan")


def _first_reached(case: Case, ev: pd.DataFrame) -> int | None:
    """Index of the first returnable evaluation at the optimum (None if never)."""
    x = ev[list(case.spec.names)].to_numpy(dtype=float)
    near = np.max(np.abs(x - case.x_ref), axis=1) <= TOL_X
    low = ev["objective"].astype(float).to_numpy() - case.q_ref <= TOL_Q  # NaN (failed): False
    ok = ev["phase"].isin(RETURNABLE).to_numpy() & ~ev["batch"].astype(bool).to_numpy()
    hits = np.flatnonzero(ok & near & low & (ev["status"] == "ok").to_numpy())
    return int(hits[0]) if len(hits) else None


def _driver_ms(ev: pd.DataFrame) -> float:
    """Median time from a row reaching the driver to the next evaluation leaving it."""
    sent = np.unique(ev["sent"].to_numpy())  # a Jacobian's points share one
    received = np.sort(ev["received"].to_numpy())
    k = np.searchsorted(received, sent) - 1  # the last row received before each send
    gaps = sent[k >= 0] - received[k[k >= 0]]
    return 1000.0 * float(np.median(gaps)) if len(gaps) else float("nan")


def _ray_ms(ev: pd.DataFrame) -> float:
    """Median Ray round trip of single evaluations: sent -> started plus end -> received.

    A call queued behind another on its actor (pipelined trials) could not start
    before that one ended, so its way there is counted from the later of its send
    and the end of the actor's previous solve.
    """
    end = ev["started"] + ev["t_eval"]
    previous = end.groupby(ev["actor"]).shift().fillna(-np.inf)  # rows are in received order
    one = ev["batch"].astype(bool).to_numpy() == 0
    there = (ev["started"] - np.maximum(ev["sent"], previous))[one]
    back = (ev["received"] - end)[one]
    return 1000.0 * float(there.median() + back.median())


def _union(starts: np.ndarray, ends: np.ndarray) -> float:
    """Total length of the union of the intervals [starts_i, ends_i]."""
    total, reach = 0.0, -np.inf
    for s, e in sorted(zip(starts, ends, strict=True)):
        if e > reach:
            total += e - max(s, reach)
            reach = e
    return total


def part1(root: Path, names: list[str], repeat: int, track: bool, depth: int) -> None:
    cases = [CASES[n]() for n in names]
    for c in cases:
        print(f"{c.label}: {', '.join(c.spec.names)}, reference "
              f"{np.array2string(c.x_ref, precision=8)}, {c.spec.optimizer.n_trials} trials "
              f"({c.spec.optimizer.sampler}), targets {', '.join(c.spec.objective.names)}")
    warm = dataclasses.replace(cases[-1].spec, optimizer=dataclasses.replace(
        cases[-1].spec.optimizer, n_trials=2, polish=False))
    estimate(warm, root / "warmup", track=False)  # numba caches, Ray workers
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for k in range(repeat):
        for c in cases:
            if k and c.label in DIAGNOSTIC:
                continue
            for actors in (1, 2):
                out = root / f"{c.label}_{actors}_{k}"
                runs.setdefault((c.label, actors), []).append(
                    timed_run(c, actors, out, track, depth))
    _print_part1(runs, repeat)
    print(f"trials in flight per actor: {depth}")


def _med(rows: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in rows if key in r]
    return float(np.median(vals)) if vals else float("nan")


COLUMNS = (  # header, key, format (percentages are shares x 100)
    ("solves", "solves", "{:.0f}"), ("t_opt s", "t_opt", "{:.2f}"), ("start s", "start", "{:.2f}"),
    ("out/cap", "cap", "{:.1%}"), ("no-solve", "no_solve", "{:.1%}"),
    ("no-solve trials", "no_solve_trial", "{:.1%}"), ("no-solve polish", "no_solve_polish",
                                                      "{:.1%}"),
    ("idle ms/solve", "idle_ms", "{:.1f}"), ("t_eval ms", "t_eval_ms", "{:.1f}"),
    ("driver ms", "driver_ms", "{:.1f}"), ("ray ms", "ray_ms", "{:.1f}"),
    ("solves(all)", "solves_all", "{:.0f}"), ("wall s", "wall", "{:.2f}"),
    ("out/cap(all)", "cap_all", "{:.1%}"), ("best trial", "q_best_trial", "{:.1e}"),
    ("Q final", "q_final", "{:.1e}"), ("|x-ref| final", "dx_final", "{:.1e}"),
    ("polish nfev", "polish_nfev", "{:.0f}"), ("polish njev", "polish_njev", "{:.0f}"),
    ("polish solves", "polish_solves", "{:.0f}"), ("polish unused", "polish_wasted", "{:.0f}"),
    ("polish s", "polish_seconds", "{:.3f}"))


def _cell(fmt: str, value: float) -> str:
    return "-" if np.isnan(value) else fmt.format(value)


def _print_part1(runs: dict[tuple[str, int], list[dict[str, Any]]], repeat: int) -> None:
    print(f"\nmedians of {repeat} run(s) ({', '.join(DIAGNOSTIC)}: 1); window = first "
          "solve's start .. optimum")
    head = ("case", "actors", "reached", "phase", *(h for h, _, _ in COLUMNS))
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for (label, actors), rows in runs.items():
        phases = sorted({r["phase"] for r in rows if r["reached"]})
        cells = [label, str(actors), f"{sum(r['reached'] for r in rows)}/{len(rows)}",
                 "/".join(phases) or "-", *(_cell(fmt, _med(rows, key)) for _, key, fmt in COLUMNS)]
        print("| " + " | ".join(cells) + " |")
    for label in dict.fromkeys(lbl for lbl, _ in runs):
        one, two = runs[(label, 1)], runs[(label, 2)]
        t1, t2 = _med(one, "t_opt"), _med(two, "t_opt")
        l1 = t1 - _med(one, "start")
        l2 = t2 - _med(two, "start")
        if np.isnan(t1) or np.isnan(t2):
            print(f"{label}: no ratio, the optimum was not reached in every run (see reached)")
            continue
        print(f"{label}: time to the optimum, 1 actor / 2 actors = {t1 / t2:.2f}x "
              f"(without start-up {l1 / l2:.2f}x); solves {_med(one, 'solves'):.0f} vs "
              f"{_med(two, 'solves'):.0f}")


# ---------------------------------------------------------------------------- part 2


def mc_raw() -> dict[str, Any]:
    """The SMM problem of the coverage test (truth and box of the shipped recovery config)."""
    raw = _raw("smm_recovery_huggett.yaml")
    raw["simulation"] = {"statistics": "panel_moments", "n_households": 1000, "n_periods": 10,
                         "n_sims": 2, "seed": 0}
    raw["optimizer"] = {"n_trials": 12, "n_startup_trials": 6}
    raw["resources"] = {"num_actors": 2}
    return raw


def replication_spec(raw: dict[str, Any], r: int) -> EstimationSpec:
    """Replication r: the spec's targets.data (one panel at the truth) with its own seed."""
    d = copy.deepcopy(raw)
    d["name"] = f"mc_{r}"
    d["targets"]["data"]["seed"] = MC_DATA_SEED + 100 * r
    return EstimationSpec.from_dict(d)


def part2(root: Path, replications: int) -> None:
    raw = mc_raw()
    truth = raw["targets"]["data"]["params"]
    est, se, covered, reject, secs, gain = [], [], [], [], [], []
    for r in range(replications):
        spec = replication_spec(raw, r)
        t0 = time.perf_counter()
        try:
            res = estimate(spec, root / f"mc_{r}", track=False)
        except HetspaceError as e:
            print(f"  replication {r}: failed ({type(e).__name__}: {e})")
            continue
        secs.append(time.perf_counter() - t0)
        inf = res.inference
        x = np.array([truth[n] for n in inf.names])
        est.append(inf.estimates)
        se.append(inf.se)
        covered.append((inf.ci_low <= x) & (x <= inf.ci_high))
        reject.append(inf.p_value < 0.05)
        best = pd.read_csv(res.out_dir / "trials.csv")["objective"].min()
        gain.append((res.objective, best))
    _print_part2(raw, truth, np.array(est), np.array(se), np.array(covered), reject, secs,
                 replications)
    if gain:
        q, best = np.array(gain).T
        print(f"Q at the estimate: median {np.median(q):.2e} (best trial {np.median(best):.2e}"
              f"); the polish halved it in {np.sum(q < 0.5 * best)} of {len(q)} replications")


def _print_part2(raw, truth, est, se, covered, reject, secs, replications) -> None:
    n = len(est)
    sim = raw["simulation"]
    print(f"\nMonte Carlo: {n} of {replications} replications finished, data: one panel per "
          f"replication (targets.data), {sim['n_households']} x {sim['n_periods']} panels, "
          f"n_sims {sim['n_sims']}, median "
          f"{np.median(secs) if secs else float('nan'):.1f} s per estimation")
    if n < 2:
        return
    print(f"binomial SE of a 95% coverage with R = {n}: {np.sqrt(0.95 * 0.05 / n):.3f}")
    print("| parameter | truth | coverage (95% CI) | binomial SE | mean bias | mean SE | "
          "s.d. of estimates | mean SE / s.d. |\n|---|---|---|---|---|---|---|---|")
    for j, name in enumerate(raw["parameters"]):
        p = covered[:, j].mean()
        sd = est[:, j].std(ddof=1)
        print(f"| {name} | {truth[name]:g} | {p:.3f} | {np.sqrt(p * (1 - p) / n):.3f} | "
              f"{np.mean(est[:, j] - truth[name]):.3e} | {np.mean(se[:, j]):.3e} | "
              f"{sd:.3e} | {np.mean(se[:, j]) / sd:.2f} |")
    print(f"J-test (df = {len(raw['targets']['moments']) - len(raw['parameters'])}) rejects "
          f"at 5% in {np.mean(reject):.3f} of replications")


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repeat, 4 replications")
    ap.add_argument("--repeat", type=int, default=None, help="runs per case and actor count")
    ap.add_argument("--replications", type=int, default=None, help="Monte Carlo size R")
    ap.add_argument("--cases", default=",".join(CASES), help="part 1 cases, comma separated")
    ap.add_argument("--no-track", action="store_true", help="no MLflow run in part 1")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--depth", type=int, default=Optimizer().depth,
                    help=f"Optuna trials in flight per actor (default {Optimizer().depth}; "
                         "1: none queued)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    replications = args.replications if args.replications is not None else (
        4 if args.quick else 20)
    names = [n for n in args.cases.split(",") if n]
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        ap.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    logging.basicConfig(level=logging.ERROR)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # before Ray starts
    root = args.out or Path(tempfile.mkdtemp(prefix="hetspace-bench-estimation-"))
    connect(None, num_cpus=args.cpus)
    print(f"output (and MLflow stores) in {root}; load average {os.getloadavg()}")
    t0 = time.perf_counter()
    if names:
        part1(root, names, repeat, not args.no_track, args.depth)
    if replications:
        part2(root, replications)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
