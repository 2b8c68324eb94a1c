"""Sweep benchmarks on the workhorse (Huggett 1993, 64 points), ratios measured in one run.

    python benchmarks/sweeps.py [--n-a 150] [--out DIR]

1. parallel efficiency: the 64-point sweep with 2 actors vs 1 actor (fan-out time;
   target >= 1.7x on 2 free cores);
2. warm-start gain: the same points walked in chain order warm-started vs each solved
   cold, in one process (target >= 2x);
3. per-point overhead of Ray + store (+ tracking): (actors x fan-out time - sum of the
   actors' evaluation times) / points, against the median solve (target < 5%);
4. MLflow: cost of the parent run (setup + artifacts) and of per-point child runs,
   extrapolated to a 1,000-point sweep of these points on 2 actors.
Run by hand; the cores are shared, so repeat when numbers look off.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hetspace.sweeps import SteadyStateActor, SweepSpec, Task, order_chains, run_sweep
from hetspace.sweeps.cluster import connect
from hetspace.sweeps.tracking import SweepTracker


def spec_dict(n_a: int, name: str) -> dict:
    return {
        "name": name, "model": "incomplete_markets",
        "baseline": {"params": {"gamma": 1.5, "beta": 0.96 ** (1 / 6), "e_grid": [1.0, 0.1],
                                "Pi": [[0.925, 0.075], [0.5, 0.5]], "a_low": -2.0,
                                "limit_on_face_value": True, "closure": "bond"},
                     "numerics": {"n_a": n_a, "a_max": 12.0, "grid": "power"}},
        "grid": {"gamma": [float(g) for g in np.round(np.linspace(1.5, 2.5, 8), 4)],
                 "a_low": [float(a) for a in np.round(np.linspace(-3.0, -4.5, 8), 4)]},
        "moments": ["r"],
    }


def sweep(spec: SweepSpec, out: Path, actors: int, track: bool = False):
    result = run_sweep(spec, out, num_actors=actors, track=track, plots=False, resume=False)
    df = result.results
    if result.n_failed:
        print(f"  note: {result.n_failed} failed points")
    return result, df


def warm_vs_cold(spec: SweepSpec) -> tuple[float, float]:
    chain = order_chains(spec.points, 1)[0]
    warm, cold = SteadyStateActor(spec.model.name), SteadyStateActor(spec.model.name)
    t_warm = t_cold = 0.0
    for p in chain:
        task = Task(p.key, p.params, spec.numerics, p.seed)
        t0 = time.perf_counter()
        warm.evaluate(task)
        t1 = time.perf_counter()
        cold.held = None
        cold.evaluate(task)
        t_cold += time.perf_counter() - t1
        t_warm += t1 - t0
    return t_warm, t_cold


def child_run_cost(out: Path, n: int = 50) -> float:
    tracker = SweepTracker(name="child_cost", experiment=None, out_dir=out, child_runs=True)
    tracker.start({"model": "incomplete_markets"})
    t0 = time.perf_counter()
    for i in range(n):
        tracker.log_point({"gamma": 1.5, "a_low": -2.0}, {"key": f"{i:064d}", "status": "ok",
                          "moments": {f"m{k}": 0.1 * k for k in range(15)}, "t_solve": 0.1})
    per = (time.perf_counter() - t0) / n
    tracker.finish("FINISHED", {}, [])
    return per


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-a", type=int, default=150)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="hetspace-bench-"))
    connect(None)
    spec = SweepSpec.from_dict(spec_dict(args.n_a, "bench"))
    print(f"64-point Huggett sweep, n_a={args.n_a}, output in {root}")
    sweep(spec, root / "warmup", 2)  # numba caches, actor start-up
    one, _ = sweep(spec, root / "one", 1)
    two, df2 = sweep(spec, root / "two", 2)
    tracked, df3 = sweep(spec, root / "tracked", 2, track=True)
    t1, t2 = one.timings["fan_out"], two.timings["fan_out"]
    print(f"1. parallel: 1 actor {t1:.2f} s, 2 actors {t2:.2f} s -> {t1 / t2:.2f}x "
          "(target >= 1.7x)")
    t_warm, t_cold = warm_vs_cold(spec)
    print(f"2. warm start: chain warm {t_warm:.2f} s, cold {t_cold:.2f} s -> "
          f"{t_cold / t_warm:.2f}x (target >= 2x)")
    median = statistics.median(df2["t_solve"].dropna())
    for label, res, df in (("Ray + store", two, df2), ("Ray + store + MLflow", tracked, df3)):
        over = (2 * res.timings["fan_out"] - df["t_eval"].sum()) / len(df)
        print(f"3. per-point overhead ({label}): {1000 * over:.2f} ms vs median solve "
              f"{1000 * median:.1f} ms -> {100 * over / median:.2f}% (target < 5%)")
    wall_1000 = 1000 * median / 2
    t = tracked.timings
    exposed = t["tracking_wait"] + t["tracking_finish"]
    child = child_run_cost(root / "child")
    print(f"4. MLflow: parent run {t['tracking']:.2f} s of driver time, of which "
          f"{exposed:.2f} s not hidden behind Ray/actor start-up (wait {t['tracking_wait']:.2f}"
          f" s, artifacts {t['tracking_finish']:.2f} s) -> {100 * exposed / wall_1000:.1f}% of "
          f"a 1,000-point sweep's ~{wall_1000:.0f} s on 2 actors; child runs would add "
          f"{1000 * child:.1f} ms/point -> {100 * 1000 * child / wall_1000:.0f}%")


if __name__ == "__main__":
    main()
