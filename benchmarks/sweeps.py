"""Sweep benchmarks on the workhorse (Huggett 1993, 64 points), ratios measured in one run.

    python benchmarks/sweeps.py [--n-a 300] [--repeat 3] [--out DIR]
    python benchmarks/sweeps.py --points 10000   # only the scale run (``scale``)

The grid is the Huggett example's own (n_a = 300, ~20 ms a warm solve). With n_a =
150 (~10 ms) the per-call costs weigh twice as much, and on 2 cores the driver and
Ray's own processes take their CPU from the two actors. Measured on 2026-11-30 on
an idle 2-core machine (medians of 5 and 3 runs), n_a 300 / 150: 2 vs 1 actors
1.80x / 1.76x (plain processes 1.95x / 1.81x), 2-actor overhead 2.8% / 4.4%
(before the actors ran on two threads: 6.4% / 10.6%).

Every sweep is a full ``run_sweep`` (Ray actors, Parquet store, MLflow parent run)
of the same 64 points, started afresh (``resume=False``); sweeps with 1 and 2
actors (and 2 actors with one point per call) alternate ``--repeat`` times, so
that load from other users of the machine hits all of them alike. Figures:

1. parallel efficiency: fan-out time (first call to last row) with 1 actor over
   that with 2 actors (target >= 1.7x on 2 free cores); actor start-up (imports,
   numba's target) is setup, the first solve's loading of cached kernels is in.
   Reference measured alongside: the same two chains walked by two plain Python
   processes at once vs by one (the machine's own 2-core scaling right now);
   the whole sweeps' wall times follow;
2. warm-start gain: the 64 points walked in chain order (one chain, rows of
   the grid back and forth), each solved as an actor does it (warm from the
   previous steady state, extrapolated along the line through the two before
   when the point is on it) and, interleaved in the same process, cold; total
   cold time over total warm time (target >= 2x), ``--repeat`` times;
3. per-point overhead of the machinery (Ray + store + tracking):
   (actors x fan-out time - sum of the actors' evaluation times) / points,
   against the median solve time (target < 5%). An evaluation is the actor's
   whole work on a point (solve, moments; ``t_eval``), so the overhead is the
   time an actor spends not evaluating a point, per point. It is split using
   each row's start time on the actor (``started_unix``) into: gaps between an
   actor's consecutive points (Ray's per-call cost, waiting for the driver),
   actors idle before their first or after their last point (start-up, the
   uneven end of the chains) and the ends of the fan-out outside any
   evaluation (first submission, last rows stored). The driver's CPU time per
   point is shown too;
4. MLflow: cost of the parent run (setup + artifacts) and of per-point child
   runs, extrapolated to a 1,000-point sweep of these points on 2 actors.

Run by hand. The cores are shared, so the load averages are printed before and
after; the median over the repeats is the headline, the range follows it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hetspace.sweeps import SteadyStateActor, SweepSpec, Task, order_chains, run_sweep
from hetspace.sweeps.actors import Evaluation, Status
from hetspace.sweeps.cluster import connect
from hetspace.sweeps.tracking import SweepTracker

ROOT = Path(__file__).resolve().parents[1]


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


@dataclasses.dataclass
class Fanout:
    """One sweep's fan-out, per point in seconds (see the module docstring, item 3)."""

    actors: int
    seconds: float
    median_solve: float
    overhead: float
    gaps: float
    idle_ends: float
    outside: float
    driver_cpu: float
    points_per_call: float
    wall: float  # the whole sweep
    setup: float  # per sweep: Ray, actors, MLflow parent run
    finish: float  # per sweep: consolidate the store, tables, MLflow artifacts

    @property
    def share(self) -> float:
        return self.overhead / self.median_solve


def measure(spec: SweepSpec, out: Path, actors: int, max_batch: int | None = None) -> Fanout:
    extra = {} if max_batch is None else {"max_batch": max_batch}
    result = run_sweep(spec, out, num_actors=actors, plots=False, resume=False, **extra)
    if result.n_failed:
        print(f"  note: {result.n_failed} failed points")
    df = result.results
    fan, n = result.timings["fan_out"], len(df)
    ok = df[df["t_eval"].notna()]
    start, end = ok["started_unix"], ok["started_unix"] + ok["t_eval"]
    window = end.max() - start.min()
    gaps = idle = 0.0
    for _, rows in ok.assign(end=end).groupby("actor"):
        busy = rows["end"].max() - rows["started_unix"].min()
        gaps += busy - rows["t_eval"].sum()
        idle += window - busy
    idle += (actors - ok["actor"].nunique()) * window
    return Fanout(actors=actors, seconds=fan, median_solve=float(df["t_solve"].median()),
                  overhead=(actors * fan - ok["t_eval"].sum()) / n, gaps=gaps / n,
                  idle_ends=idle / n, outside=actors * (fan - window) / n,
                  driver_cpu=result.timings["fan_out_driver_cpu"] / n,
                  points_per_call=n / result.timings["calls"], wall=result.wall_seconds,
                  setup=result.timings["setup"],
                  finish=result.wall_seconds - result.timings["setup"] - fan)


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


def _walk_chains(model: str, chains: list, numerics, barrier, out) -> None:
    """In a plain process: warm up (imports, numba caches), wait for the others,
    then solve ``chains`` one after the other, each warm along itself."""
    actor = SteadyStateActor(model)
    first = chains[0][0]
    actor.evaluate(Task(first.key, first.params, numerics, first.seed))
    barrier.wait()
    t0 = time.time()
    for chain in chains:
        actor.held = None
        for p in chain:
            actor.evaluate(Task(p.key, p.params, numerics, p.seed))
    out.put((t0, time.time()))


def plain_processes(spec: SweepSpec) -> tuple[float, float]:
    """(seconds, seconds): the two chains of a 2-actor sweep walked by 2 plain processes
    at once, and both walked by one process: what this machine allows without Ray."""
    chains = order_chains(spec.points, 2)
    ctx = multiprocessing.get_context("spawn")
    times = []
    for groups in ([[chains[0]], [chains[1]]], [chains]):
        barrier, out = ctx.Barrier(len(groups)), ctx.Queue()
        procs = [ctx.Process(target=_walk_chains, args=(spec.model.name, g, spec.numerics,
                                                        barrier, out)) for g in groups]
        for proc in procs:
            proc.start()
        spans = [out.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        times.append(max(t1 for _, t1 in spans) - min(t0 for t0, _ in spans))
    return times[0], times[1]


def child_run_cost(out: Path, n: int = 50) -> float:
    tracker = SweepTracker(name="child_cost", experiment=None, out_dir=out, child_runs=True)
    tracker.start({"model": "incomplete_markets"})
    t0 = time.perf_counter()
    for i in range(n):
        tracker.log_point({"gamma": 1.5, "a_low": -2.0}, Evaluation(
            key=f"{i:064d}", status=Status.OK, moments={f"m{k}": 0.1 * k for k in range(15)},
            t_solve=0.1))
    per = (time.perf_counter() - t0) / n
    tracker.finish("FINISHED", {}, [])
    return per


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def _spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} [runs: " + ", ".join(
        fmt.format(v) for v in values) + "]"


def _overhead_lines(label: str, runs: list[Fanout]) -> list[str]:
    med = {f.name: statistics.median(getattr(r, f.name) for r in runs)
           for f in dataclasses.fields(Fanout)}
    shares = [100 * r.share for r in runs]
    return [
        f"   {label}: {1000 * med['overhead']:.2f} ms/point vs median solve "
        f"{1000 * med['median_solve']:.1f} ms -> {_spread(shares, '{:.1f}%')} (target < 5%)",
        f"     where (ms/point): between points {1000 * med['gaps']:.2f}, actors idle at the "
        f"start/end {1000 * med['idle_ends']:.2f}, outside any evaluation "
        f"{1000 * med['outside']:.2f}; driver CPU {1000 * med['driver_cpu']:.2f} ms/point; "
        f"{med['points_per_call']:.1f} points per call",
        f"     once per sweep (s): setup {med['setup']:.2f} (Ray, actors, MLflow run), finish "
        f"{med['finish']:.2f} (consolidate the store, tables, artifacts)"]


def scale(points: int, root: Path) -> None:
    """``--points N``: a sweep of N Armington points (a square grid of sigma x kappa,
    milliseconds a point) on 2 actors: the driver's CPU time per point (this process:
    scheduling, store, tracking; the actors' solves are elsewhere), its peak resident
    memory, the MLflow artifacts' size, then the same command again (every point
    stored: the resume's wall time, reading the store included)."""
    side = math.ceil(math.sqrt(points))
    spec = SweepSpec.from_dict({
        "name": "scale", "model": "armington",
        "baseline": {"config": str(ROOT / "configs/models/armington_example.yaml")},
        "grid": {"sigma": np.linspace(1.5, 6.0, side).tolist(),
                 "kappa": np.linspace(0.5, 3.0, side).tolist()},
        "moments": ["welfare"], "resources": {"num_actors": 2}})
    n = len(spec.points)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    result = run_sweep(spec, root / "scale", plots=False, resume=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    artifacts = sum(f.stat().st_size for f in (root / "scale").rglob("*")
                    if f.is_file() and "mlartifacts" in f.parts)
    t0 = time.perf_counter()
    again = run_sweep(spec, root / "scale", plots=False)
    resumed = time.perf_counter() - t0
    print(f"{n} points ({result.n_failed} failed): wall {wall:.1f} s, driver CPU "
          f"{1000 * cpu / n:.2f} ms/point (whole sweep, setup included; target <= 1 ms), "
          f"driver peak RSS {rss:.0f} MB, MLflow artifacts {artifacts / 1e6:.2f} MB")
    print(f"resume with every point stored: {again.n_skipped} skipped in {resumed:.2f} s "
          "(target < 2 s at 10,000; Ray start-up included)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-a", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--points", type=int, default=None,
                    help="only the scale run: a sweep of about this many Armington points")
    args = ap.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="hetspace-bench-"))
    if args.points:
        print(f"load average before: {_load()}")
        connect(None)
        scale(args.points, root)
        print(f"load average after: {_load()}")
        return
    print(f"load average before: {_load()}")
    connect(None)
    spec = SweepSpec.from_dict(spec_dict(args.n_a, "bench"))
    print(f"64-point Huggett sweep, n_a={args.n_a}, {args.repeat} repeats, output in {root}")
    measure(spec, root / "warmup", 2)  # numba caches, actor start-up
    runs: dict[str, list[Fanout]] = {"one": [], "two": [], "two_single": []}
    plain: list[float] = []
    for rep in range(args.repeat):
        parallel, serial = plain_processes(spec)
        plain.append(serial / parallel)
        runs["one"].append(measure(spec, root / f"one{rep}", 1))
        runs["two"].append(measure(spec, root / f"two{rep}", 2))
        runs["two_single"].append(measure(spec, root / f"single{rep}", 2, max_batch=1))
    speedups = [a.seconds / b.seconds for a, b in zip(runs["one"], runs["two"], strict=True)]
    t1 = statistics.median(r.seconds for r in runs["one"])
    t2 = statistics.median(r.seconds for r in runs["two"])
    s1 = statistics.median(r.median_solve for r in runs["one"])
    s2 = statistics.median(r.median_solve for r in runs["two"])
    print(f"1. parallel efficiency: fan-out 1 actor {t1:.2f} s, 2 actors {t2:.2f} s -> "
          f"{_spread(speedups, '{:.2f}x')} (target >= 1.7x)")
    w1 = statistics.median(r.wall for r in runs["one"])
    w2 = statistics.median(r.wall for r in runs["two"])
    print(f"   reference without Ray: the same two chains in 2 plain processes at once vs "
          f"one after the other -> {_spread(plain, '{:.2f}x')}")
    print(f"   whole sweep (with Ray and actor start-up, MLflow, tables): 1 actor {w1:.2f} s, "
          f"2 actors {w2:.2f} s -> {w1 / w2:.2f}x")
    print(f"   median solve 1 actor {1000 * s1:.1f} ms, 2 actors {1000 * s2:.1f} ms "
          f"(x{s2 / s1:.2f}: the cores the actors share with the driver, Ray and other users)")
    pairs = [warm_vs_cold(spec) for _ in range(args.repeat)]
    t_warm = statistics.median(w for w, _ in pairs)
    t_cold = statistics.median(c for _, c in pairs)
    print(f"2. warm start: chain warm {t_warm:.2f} s, cold {t_cold:.2f} s -> "
          f"{_spread([c / w for w, c in pairs], '{:.2f}x')} (target >= 2x)")
    print("3. per-point overhead (Ray + store + MLflow parent run):")
    for label, key in (("2 actors", "two"), ("1 actor", "one"),
                       ("2 actors, one point per call", "two_single")):
        print("\n".join(_overhead_lines(label, runs[key])))
    _mlflow_line(spec, root, s2)
    print(f"load average after: {_load()}")


def _mlflow_line(spec: SweepSpec, root: Path, median_solve: float) -> None:
    result = run_sweep(spec, root / "tracked", num_actors=2, plots=False, resume=False)
    t = result.timings
    wall_1000 = 1000 * median_solve / 2
    exposed = t["tracking_wait"] + t["tracking_finish"]
    child = child_run_cost(root / "child")
    print(f"4. MLflow: parent run {t['tracking']:.2f} s of driver time, of which "
          f"{exposed:.2f} s not hidden behind Ray/actor start-up (wait {t['tracking_wait']:.2f}"
          f" s, artifacts {t['tracking_finish']:.2f} s) -> {100 * exposed / wall_1000:.1f}% of "
          f"a 1,000-point sweep's ~{wall_1000:.0f} s on 2 actors; child runs would add "
          f"{1000 * child:.1f} ms/point -> {100 * 1000 * child / wall_1000:.0f}%")


if __name__ == "__main__":
    main()
