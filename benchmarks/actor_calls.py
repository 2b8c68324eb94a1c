"""Idle time of a Ray actor between two calls, one thread vs two (ratios in one run).

    python benchmarks/actor_calls.py [--calls 30] [--work-ms 0 5 20 100]

Why the steady-state actors run on two threads (``hetspace.sweeps.pool``): each
call here is a busy loop of ``work`` milliseconds; the driver keeps ``depth`` = 2
calls in flight per actor, so the next call is always queued before the current
one ends. The gap is the actor's idle time between the end of one call and the
start of the next (both measured inside the actor).

- one thread: Ray's default actor; Ray's per-call work (receiving the call,
  sending the last result) runs on the thread that computes;
- two threads: ``max_concurrency=2`` and the calls taking turns in
  :class:`hetspace.sweeps.actors.CallOrder`, as the steady-state actors do.

Run by hand on an otherwise idle machine; 1 and 2 actors, medians of the gaps.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import ray

from hetspace.sweeps.actors import CallOrder


class Busy:
    def __init__(self) -> None:
        self.order = CallOrder()

    def work(self, ms: float, seq: int | None = None) -> tuple[float, float]:
        with self.order.turn(seq):
            start = time.time()
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < ms / 1000:
                pass
            return start, time.perf_counter() - t0


def gaps(n_actors: int, threads: int, ms: float, calls: int, depth: int = 2) -> list[float]:
    remote = ray.remote(num_cpus=1, max_concurrency=threads)(Busy)
    actors = [remote.remote() for _ in range(n_actors)]
    ray.get([a.work.remote(0.0, seq=0) for a in actors])
    sent = [1] * n_actors
    spans: list[list[tuple[float, float]]] = [[] for _ in actors]
    inflight: dict[ray.ObjectRef, int] = {}

    def submit(i: int) -> None:
        inflight[actors[i].work.remote(ms, seq=sent[i])] = i
        sent[i] += 1

    for i in range(n_actors):
        for _ in range(depth):
            submit(i)
    while inflight:
        ready, _ = ray.wait(list(inflight), num_returns=1)
        for ref in ready:
            i = inflight.pop(ref)
            spans[i].append(ray.get(ref))
            if sent[i] <= calls:
                submit(i)
    for a in actors:
        ray.kill(a)
    out = []
    for rows in spans:
        rows.sort()
        out += [1000 * (s1 - s0 - d0) for (s0, d0), (s1, _) in itertools.pairwise(rows)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--work-ms", type=float, nargs="+", default=[0.0, 5.0, 20.0, 100.0])
    args = ap.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print("median idle time of an actor between two calls (ms), depth 2:")
    for ms in args.work_ms:
        for n in (1, 2):
            one = statistics.median(gaps(n, 1, ms, args.calls))
            two = statistics.median(gaps(n, 2, ms, args.calls))
            print(f"  work {ms:4.0f} ms, {n} actor(s): one thread {one:.2f}, two threads "
                  f"{two:.2f} -> {one / max(two, 1e-6):.1f}x less idle")
    ray.shutdown()


if __name__ == "__main__":
    main()
