"""Entry point for running a sweep on a Ray cluster::

    ray submit cluster.yaml sweeps/submit.py -- configs/sweeps/robustness_spatial48.yaml

``ray submit`` copies this file to the head node and runs it there with the
arguments after ``--``. It joins the running cluster (address ``auto``; it
never starts a Ray of its own) and runs the same ``run_sweep`` as
``hetspace sweep``. A relative spec path is looked up in the working folder,
then in the project checkout that ``cluster.yaml`` puts on every node
(``$HETSPACE_HOME``, default ``~/hetspace``). Exit codes follow ``hetspace``:
0 success, 1 failed points or no cluster, 2 invalid spec, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from hetspace.core.errors import InvalidConfigError
from hetspace.sweeps.cluster import ClusterNotFoundError
from hetspace.sweeps.runner import SweepTerminated, run_sweep
from hetspace.sweeps.spec import load_sweep_spec


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        spec = load_sweep_spec(find_spec(args.spec))
        result = run_sweep(spec, args.out, num_actors=args.num_actors, address=args.address,
                           resume=args.resume, retry_failed=args.retry_failed,
                           progress=_progress)
    except InvalidConfigError as e:
        for p in e.problems or [""]:
            print(f"error: {e.source}: {p}", file=sys.stderr)
        return 2
    except ClusterNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SweepTerminated):
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(f"{result.n_points} points: {result.n_evaluated} evaluated, {result.n_skipped} "
          f"already stored, {result.n_failed} failed; wall {result.wall_seconds:.1f} s")
    print(f"results: {result.out_dir}")
    if result.run_id:
        print(f"MLflow: {result.tracking_uri} (run {result.run_id})")
    return 1 if result.n_failed else 0


def find_spec(path: str) -> Path:
    """``path`` as given, else relative to the project checkout ($HETSPACE_HOME, ~/hetspace)."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    home = Path(os.environ.get("HETSPACE_HOME", "~/hetspace")).expanduser()
    return home / given if (home / given).exists() else given


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="submit.py", description="Run a hetspace sweep on the "
                                "Ray cluster this process runs in.")
    p.add_argument("spec", help="sweep spec (YAML)")
    p.add_argument("--out", default=None, help="output folder [out/sweeps/<name>]")
    p.add_argument("--num-actors", type=int, default=None)
    p.add_argument("--address", default="auto", help="Ray address [auto]")
    p.add_argument("--no-resume", dest="resume", action="store_false")
    p.add_argument("--retry-failed", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _progress(done: int, failed: int, total: int) -> None:
    if done == total or done % max(1, total // 20) == 0:
        print(f"{done}/{total} points done, {failed} failed", flush=True)


if __name__ == "__main__":
    sys.exit(main())
