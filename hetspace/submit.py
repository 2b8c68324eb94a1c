"""Entry point for running a sweep or an estimation on a Ray cluster::

    ray submit cluster.yaml hetspace/submit.py -- configs/sweeps/robustness_spatial48.yaml
    ray submit cluster.yaml hetspace/submit.py -- configs/estimation/smm_recovery_huggett.yaml

``ray submit`` copies this file to the head node and runs it there with the
arguments after ``--``. It joins the running cluster (address ``auto``; it
never starts a Ray of its own) and runs what the spec describes: a sweep spec
the same ``run_sweep`` as ``hetspace sweep``, an estimation spec the same
``estimate`` as ``hetspace estimate``. The kind is told by the top-level keys
only one kind of spec has (a sweep: ``grid``, ``zip``, ``shocks``, ``moments``;
an estimation: ``parameters``, ``targets``, ``method``, ``optimizer``,
``simulation``); ``--kind`` says it explicitly. A relative spec path is looked
up in the working folder, then in the project checkout that ``cluster.yaml``
puts on every node (``$HETSPACE_HOME``, default ``~/hetspace``).

Running the same command again resumes: a sweep skips the points already
stored, an estimation continues the Optuna study in its output folder (a
finished study is only polished and reported again). ``--no-resume`` refuses
an existing estimation study instead. Exit codes follow ``hetspace``: 0
success, 1 failed points, no cluster or another hetspace error, 2 invalid
spec, 3 the model cannot be solved at the estimate, 130 interrupted.

Like ``hetspace.cli`` this is an entry point above both packages (so it lives in
``hetspace/``, not in ``sweeps/``: imports flow core <- sweeps <- estimation <-
hetspace); it imports ``hetspace.estimation`` only inside functions, so that a
sweep does not pay for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hetspace.core.config import parse_yaml, read_text
from hetspace.core.errors import HetspaceError, InvalidConfigError, SolverConvergenceError
from hetspace.sweeps.runner import SweepTerminated, run_sweep
from hetspace.sweeps.spec import TOP_LEVEL_KEYS as SWEEP_KEYS
from hetspace.sweeps.spec import load_sweep_spec

KINDS = ("sweep", "estimation")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        path = find_spec(args.spec)
        kind = args.kind or spec_kind(path)
        return _run_sweep(path, args) if kind == "sweep" else _run_estimation(path, args)
    except InvalidConfigError as e:
        for p in e.problems or [""]:
            print(f"error: {e.source}: {p}", file=sys.stderr)
        return 2
    except SolverConvergenceError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 3
    except HetspaceError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SweepTerminated):
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def spec_kind(path: Path) -> str:
    """"sweep" or "estimation", from the top-level keys that only one kind of spec has.

    ``InvalidConfigError`` (naming those keys) if the file has keys of both kinds or of
    neither, or is not a YAML mapping.
    """
    from hetspace.estimation.spec import TOP_LEVEL_KEYS as ESTIMATION_KEYS

    source = str(path)
    data, _ = parse_yaml(read_text(path, source), source)
    if not isinstance(data, dict):
        raise InvalidConfigError(source, ["top level must be a mapping (a sweep or an "
                                          "estimation spec)"])
    only = {"sweep": sorted(set(SWEEP_KEYS) - set(ESTIMATION_KEYS)),
            "estimation": sorted(set(ESTIMATION_KEYS) - set(SWEEP_KEYS))}
    found = {k: [key for key in keys if key in data] for k, keys in only.items()}
    kinds = [k for k in KINDS if found[k]]
    if len(kinds) == 1:
        return kinds[0]
    if kinds:
        why = (f"has keys of both a sweep spec ({', '.join(found['sweep'])}) and an "
               f"estimation spec ({', '.join(found['estimation'])}); remove the ones that do "
               "not belong, or pass --kind")
    else:
        why = (f"is neither a sweep spec (it has none of {', '.join(only['sweep'])}) nor an "
               f"estimation spec (none of {', '.join(only['estimation'])}); pass --kind to "
               "see what the loader of either kind says")
    raise InvalidConfigError(source, [why])


def _run_sweep(path: Path, args: argparse.Namespace) -> int:
    spec = load_sweep_spec(path)
    result = run_sweep(spec, args.out, num_actors=args.num_actors, address=args.address,
                       resume=args.resume, retry_failed=args.retry_failed, progress=_progress)
    print(f"{result.n_points} points: {result.n_evaluated} evaluated, {result.n_skipped} "
          f"already stored, {result.n_failed} failed; wall {result.wall_seconds:.1f} s")
    print(f"results: {result.out_dir}")
    if result.report is not None:
        print(f"report: {result.report}")
    if result.run_id:
        print(f"MLflow: {result.tracking_uri} (run {result.run_id})")
    return 1 if result.n_failed else 0


def _run_estimation(path: Path, args: argparse.Namespace) -> int:
    from hetspace.estimation import estimate, load_estimation_spec
    from hetspace.estimation.driver import default_out_dir

    spec = load_estimation_spec(path)
    out = Path(args.out) if args.out is not None else default_out_dir(spec)
    print(f"estimate {spec.name} ({spec.model.name}, {spec.method}): {', '.join(spec.names)} "
          f"from {', '.join(spec.objective.names)} -> {out}", flush=True)
    result = estimate(spec, out, address=args.address, resume=args.resume,
                      num_actors=args.num_actors, progress=_trials_progress)
    _print_estimate(result)
    return 0


def _print_estimate(result: Any) -> None:
    from hetspace.estimation.report import estimates_table, fit_table, markdown

    print(f"{result.n_trials} trials; objective {result.objective:.3e} (best trial "
          f"{result.best_trial_objective:.3e}); {result.solves} solves; "
          f"wall {result.wall_seconds:.1f} s")
    print(markdown(estimates_table(result)))
    print(markdown(fit_table(result)))
    inf = result.inference
    if inf.df > 0 and inf.J == inf.J:
        print(f"J = {inf.J:.3f} (df {inf.df}, p = {inf.p_value:.3f})")
    for name in inf.identification.weak:
        print(f"warning: {name} looks weakly identified")
    print(f"results: {result.out_dir}")
    if result.run_id:
        print(f"MLflow: {result.tracking_uri} (run {result.run_id})")


def find_spec(path: str) -> Path:
    """``path`` as given, else relative to the project checkout ($HETSPACE_HOME, ~/hetspace)."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    home = Path(os.environ.get("HETSPACE_HOME", "~/hetspace")).expanduser()
    return home / given if (home / given).exists() else given


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="submit.py", description="Run a hetspace sweep or "
                                "estimation on the Ray cluster this process runs in.")
    p.add_argument("spec", help="sweep or estimation spec (YAML)")
    p.add_argument("--kind", choices=KINDS, default=None,
                   help="what the spec is [told by its top-level keys]")
    p.add_argument("--out", default=None,
                   help="output folder [out/sweeps/<name> or out/estimation/<name>]")
    p.add_argument("--num-actors", type=int, default=None)
    p.add_argument("--address", default="auto", help="Ray address [auto]")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="sweep: evaluate stored points again; estimation: refuse an "
                   "existing study")
    p.add_argument("--retry-failed", action="store_true", help="sweep: evaluate stored failed "
                   "points again")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _progress(done: int, failed: int, total: int) -> None:
    if done == total or done % max(1, total // 20) == 0:
        print(f"{done}/{total} points done, {failed} failed", flush=True)


def _trials_progress(done: int, wanted: int, best: float) -> None:
    if done == wanted or done % max(1, wanted // 10) == 0:
        print(f"{done}/{wanted} trials finished, best objective {best:.3e}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
