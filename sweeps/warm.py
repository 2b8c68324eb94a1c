"""Compile a sweep's numba kernels into numba's cache before the sweep runs.

    python -m hetspace.sweeps.warm [SPEC ...]    # default: configs/sweeps/quickstart.yaml

The kernels are compiled with ``cache=True``: the first process that calls one
compiles it (about 40 s for the spatial workhorse's set on a shared core) and
writes it to numba's cache; every later process loads it (well under a second).
A sweep's actors start as fresh processes, so on a fresh install each of them
would compile the same kernels at once, on the cores that should be solving.
``make install`` runs this module once on the quickstart spec, so that the first
``make demo`` only loads. On a cluster, run it on each node's image (or set
``NUMBA_CACHE_DIR`` to a shared folder) before a large sweep.

It evaluates the first few points of the spec's first chain in this process,
through the same actor code a sweep uses (a cold solve, warm solves, a region
shock and, when the spec asks for them, the transition): the kernels a sweep
reaches are then compiled. Nothing is written outside numba's cache; results are
discarded. A point that fails is reported and does not stop the warming.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hetspace.sweeps.actors import Evaluation, SteadyStateActor, Task
from hetspace.sweeps.points import Point, order_chains
from hetspace.sweeps.spec import SweepSpec, load_sweep_spec

DEFAULT_SPEC = Path("configs/sweeps/quickstart.yaml")
POINTS = 3  # a cold solve and two warm ones (shocked and not, in a tour's order)


def warm_points(spec: SweepSpec, n: int = POINTS) -> list[Point]:
    """The first ``n`` points of the tour a one-actor sweep of ``spec`` would follow,
    with at least one shocked point if the spec has any (the shock's own code)."""
    (chain,) = order_chains(spec.points, 1)
    picked = list(chain[:n])
    if not any(p.shock is not None for p in picked):
        picked += [p for p in chain[n:] if p.shock is not None][:1]
    return picked


def warm(spec: SweepSpec, n: int = POINTS) -> list[Evaluation]:
    """Evaluate :func:`warm_points` of ``spec`` in this process; their evaluations."""
    actor = SteadyStateActor(spec.model.name)
    return [actor.evaluate(Task(p.key, p.params, spec.numerics, p.seed, p.dynamics))
            for p in warm_points(spec, n)]


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or [DEFAULT_SPEC]
    for path in paths:
        t = time.perf_counter()
        rows = warm(load_sweep_spec(path))
        failed = [r for r in rows if not r.ok]
        print(f"numba cache warmed from {path}: {len(rows)} points in "
              f"{time.perf_counter() - t:.1f} s" + (f", {len(failed)} failed: "
                                                   f"{failed[0].error}" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
