"""Where the set-up seconds of ``make demo`` go, phase by phase, in one run.

    python benchmarks/startup.py [--spec configs/sweeps/quickstart.yaml]

Each phase is timed on its own, in the order a sweep meets it (a sweep overlaps
the MLflow store with Ray's start; here they run one after the other, so that
each gets its own number):

1. ``hetspace --version`` in a fresh process (interpreter and CLI imports);
2. in this process: importing ``hetspace.sweeps`` (Ray, pandas), loading the spec,
   starting a local Ray, creating the MLflow store and opening the parent run in
   a temporary folder, starting the actors (their imports and numba's target),
   the first point on each actor (loading the model's cached kernels);
3. the whole ``hetspace sweep SPEC`` in a fresh output folder, as a subprocess,
   with the wall and set-up times it reports.

Run by hand; the cores are shared, so the load averages are printed before and after.
Nothing here is a test: no number is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HETSPACE = str(Path(sys.executable).parent / "hetspace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "configs/sweeps/quickstart.yaml"))
    parser.add_argument("--no-sweep", action="store_true", help="skip phase 3")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    phases: dict[str, float] = {}
    t = time.perf_counter()
    subprocess.run([HETSPACE, "--version"], check=True, capture_output=True)
    phases["hetspace --version (process)"] = time.perf_counter() - t
    _in_process(args.spec, phases)
    if not args.no_sweep:
        _whole_sweep(args.spec, phases)
    width = max(map(len, phases))
    for name, seconds in phases.items():
        print(f"{name:<{width}}  {seconds:7.2f} s")
    print(f"load average after: {os.getloadavg()}")


def _in_process(spec_path: str, phases: dict[str, float]) -> None:
    t = time.perf_counter()
    from hetspace.sweeps import SteadyStatePool, Task, load_sweep_spec
    from hetspace.sweeps.cluster import cluster_cpus, connect
    from hetspace.sweeps.tracking import SweepTracker
    phases["import hetspace.sweeps"] = time.perf_counter() - t

    t = time.perf_counter()
    spec = load_sweep_spec(spec_path)
    phases["load the spec"] = time.perf_counter() - t

    import ray

    t = time.perf_counter()
    connect(None)
    phases["start a local Ray"] = time.perf_counter() - t
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            tracker = SweepTracker(name="startup", experiment="startup", out_dir=Path(tmp),
                                   tracking_uri=None, child_runs=False)
            tracker.start({"model": spec.model.name})
            phases["MLflow store + parent run"] = time.perf_counter() - t
            tracker.finish("FINISHED", {}, [])

        n = min(cluster_cpus(), len(spec.points))
        t = time.perf_counter()
        pool = SteadyStatePool(spec.model.name, n)
        pool.wait_ready()
        phases[f"start {n} actors (imports, numba target)"] = time.perf_counter() - t

        t = time.perf_counter()
        tasks = [Task(key=p.key, params=p.params, numerics=spec.numerics, seed=p.seed)
                 for p in spec.points[:n]]
        for i, task in enumerate(tasks):
            pool.submit(i, [task])
        rows = []
        while pool.busy():
            rows += [e for ev in pool.wait() for e in ev.evaluations]
        phases["first point per actor (cached kernels, cold solve)"] = time.perf_counter() - t
        phases["  of which solving (median actor t_solve)"] = sorted(
            float("nan") if r.t_solve is None else r.t_solve for r in rows)[len(rows) // 2]
        pool.shutdown()
    finally:
        ray.shutdown()


def _whole_sweep(spec_path: str, phases: dict[str, float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        proc = subprocess.run([HETSPACE, "sweep", spec_path, "--out", tmp + "/sweep"],
                              capture_output=True, text=True, check=False)
        phases["hetspace sweep (process)"] = time.perf_counter() - t
    match = re.search(r"wall ([\d.]+) s \(setup ([\d.]+) s\)", proc.stdout)
    if match:
        phases["  sweep wall (its report)"] = float(match.group(1))
        phases["  sweep setup (its report)"] = float(match.group(2))
    else:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")


if __name__ == "__main__":
    main()
