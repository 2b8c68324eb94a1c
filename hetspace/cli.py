"""The ``hetspace`` command line.

Commands::

    hetspace --version
    hetspace models                       # registered models and what they are
    hetspace solve CONFIG.yaml [--out DIR] [-v]
    hetspace sweep SPEC.yaml [--out DIR] [--num-actors N] [--address auto]
                   [--resume/--no-resume] [--retry-failed]
    hetspace table RESULTS_DIR [--moments a,b] [--format md|tex|csv]
    hetspace plot RESULTS_DIR [--map MOMENT [--at axis=value,...]]
    hetspace report RESULTS_DIR
    hetspace sensitivity RESULTS_DIR [--moment M ...] [--shock LABEL]
    hetspace runs [DIR ...] [--tracking-uri URI] [--limit N]
    hetspace estimate SPEC.yaml [--out DIR] [--address auto] [--resume] [--num-actors N]
                                          # (kind: earnings_process: GMM, --out only)

``solve`` loads and validates the config, solves the model, prints a summary
(convergence, iterations, time, residuals, moments) and writes
``solution.npz`` (the solution's arrays) and ``summary.json`` into ``--out``
(default ``out/<config stem>``), each written atomically.

Errors the user can fix print one line per problem on stderr, prefixed with
``error:``, and no traceback. Exit codes:

    0  success
    1  another hetspace error (e.g. a model evaluation failed, no cluster or tracking
       server answers, a locked output folder, an unreadable store)
    2  usage or config error: missing file, bad YAML, unknown model, invalid params, a
       config too large, resources the cluster cannot hold, a changed resumed study
    3  the solver did not converge
    4  the outputs could not be written
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

try:  # typer >= 0.2x carries its own click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException
from rich.table import Table

from hetspace._version import __version__
from hetspace.core.config import (
    ModelConfig,
    build_summary,
    dump_summary,
    load_model_config,
    write_solution_npz,
)
from hetspace.core.errors import (
    HetspaceError,
    InvalidConfigError,
    InvalidParamsError,
    SolverConvergenceError,
    interrupted,
)
from hetspace.core.protocol import get_model, list_models, solution_arrays

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_SOLVER = 3
EXIT_OUTPUT = 4

logger = logging.getLogger("hetspace.cli")

class _NoFlagTypes:
    """Help that shows no value type (``<bool>``, ``<int>``) for flags such as --resume,
    --help or -v: they take no value (typer's rich help shows a type for every option)."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if (getattr(param, "is_flag", False) or getattr(param, "count", False)) \
                    and param.metavar is None:
                param.metavar = ""
        return params


class _Group(_NoFlagTypes, typer.core.TyperGroup):
    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """A usage error (``--limit 0``, a missing argument) is one ``error:`` line with
        exit 2, as every other error, where typer drew a box around it."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as e:
            if type(e).__name__ != "NoArgsIsHelpError":  # (that one has shown the help)
                ctx = getattr(e, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                _echo_error(f"{e.format_message()}{hint}")
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class _Command(_NoFlagTypes, typer.core.TyperCommand):
    pass


app = typer.Typer(
    cls=_Group,
    name="hetspace",
    help="Solve, sweep and estimate heterogeneous-agent spatial equilibrium models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# "\\[": help text is rich markup, where a bare [default: ...] would vanish as a tag
_ACTORS_HELP = "Steady-state actors, at most one per CPU \\[default: spec, else all CPUs]."

Verbose = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More log output (-v info, -vv debug).")
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hetspace {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
    verbose: Verbose = 0,
) -> None:
    """hetspace: heterogeneous-agent dynamic spatial general equilibrium at scale."""
    _setup_logging(verbose)


@app.command("models", cls=_Command)
def models_command() -> None:
    """List the registered models."""
    table = Table(title="hetspace models", title_justify="left")
    table.add_column("model", style="bold")
    table.add_column("description")
    for name in list_models():
        try:
            description = get_model(name).description
        except ImportError as e:  # a model whose dependencies are missing is shown, not hidden
            logger.debug("model %s failed to import", name, exc_info=True)
            description = f"(unavailable: {e})"
        table.add_row(name, description)
    _console().print(table)


@app.command("solve", cls=_Command)
def solve_command(
    config: Annotated[Path, typer.Argument(help="Model config (YAML).", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder \\[default: out/<config stem>]."),
    ] = None,
    verbose: Verbose = 0,
) -> None:
    """Solve the model a YAML config describes and write solution.npz and summary.json."""
    if verbose:
        _setup_logging(verbose)
    out_dir = out if out is not None else Path("out") / config.stem
    t0 = time.perf_counter()
    cfg = _guard(str(config), load_model_config, config)
    t1 = time.perf_counter()
    logger.info("solving %s (model %s)", config, cfg.model.name)
    sol = _guard(str(config), cfg.model.solve, cfg.params, numerics=cfg.numerics)
    t2 = time.perf_counter()
    moments = _guard(str(config), sol.moments)
    timings = {"load": t1 - t0, "solve": t2 - t1, "moments": time.perf_counter() - t2}
    _print_summary(cfg, sol, moments, timings)
    _write_outputs(out_dir, cfg, sol, timings)
    if not sol.converged:
        _fail(EXIT_SOLVER, [f"{cfg.model.name}: solver reported no convergence "
                            f"(residuals: {_residual_text(sol.residuals)})"])


def _guard(where: str, fn, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; turn the errors a user can act on into one-line messages and exit codes.

    ``where`` (e.g. the config path) prefixes messages that do not name it themselves.
    """
    try:
        return fn(*args, **kwargs)
    except InvalidConfigError as e:
        _fail(EXIT_CONFIG, [f"{e.source}: {p}" for p in e.problems] or [e.source])
    except InvalidParamsError as e:
        _fail(EXIT_CONFIG, [f"{where}: {e.owner}.{v}" for v in e.violations])
    except SolverConvergenceError as e:
        _fail(EXIT_SOLVER, [f"{where}: did not converge: {e}"])
    except HetspaceError as e:
        _fail(EXIT_ERROR, [f"{where}: {type(e).__name__}: {e}"])
    except MemoryError as e:  # a size no validation bounded yet (numerics.n_a: 1e13)
        _fail(EXIT_CONFIG, [f"{where}: out of memory ({e}); is a size in it (grid points, "
                            "periods, regions) too large?"])


def _fail(code: int, lines: list[str]) -> NoReturn:
    for line in lines:
        _echo_error(line)
    raise typer.Exit(code)


#: An error line longer than this is shortened in its middle (a 100,000-character model
#: name was echoed whole); its start (file, path) and its end (the known values) stay.
MAX_ERROR_LINE = 1000


def _echo_error(line: str) -> None:
    text = " ".join(line.split())
    if len(text) > MAX_ERROR_LINE:
        cut = len(text) - MAX_ERROR_LINE + 60
        text = f"{text[:500]} ... [{cut:,} characters left out] ... {text[500 + cut:]}"
    typer.echo(f"error: {text}", err=True)


def _write_outputs(out_dir: Path, cfg: ModelConfig, sol: Any, timings: dict[str, float]) -> None:
    try:
        npz = write_solution_npz(out_dir / "solution.npz", solution_arrays(sol))
        summary = build_summary(cfg, sol, timings=timings, version=__version__)
        js = dump_summary(out_dir / "summary.json", summary)
    except OSError as e:
        _fail(EXIT_OUTPUT, [f"cannot write outputs to {out_dir}: {e.strerror or e}"])
    _console().print(f"wrote {npz} and {js}")


def _print_summary(cfg: ModelConfig, sol: Any, moments: dict[str, float],
                   timings: dict[str, float]) -> None:
    console = _console()
    status = "converged" if sol.converged else "NOT converged"
    console.print(
        f"[bold]{cfg.model.name}[/bold] ({cfg.source_path}): {status}, "
        f"n_iter {_iter_text(sol.n_iter)}, solve {timings['solve']:.3f} s"
    )
    res = Table(title="residuals", title_justify="left")
    res.add_column("residual")
    res.add_column("value", justify="right")
    for name, value in sol.residuals.items():
        res.add_row(str(name), f"{value:.3e}")
    console.print(res)
    mom = Table(title="moments", title_justify="left")
    mom.add_column("moment")
    mom.add_column("value", justify="right")
    for name, value in moments.items():
        mom.add_row(str(name), f"{value:.6g}")
    console.print(mom)


def _residual_text(residuals: Any) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in dict(residuals).items()) or "none reported"


def _iter_text(n_iter: Any) -> str:
    if isinstance(n_iter, dict):
        return ", ".join(f"{k} {v}" for k, v in n_iter.items())
    return str(n_iter)


def _console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def _setup_logging(verbose: int) -> None:
    """Send the ``hetspace`` loggers to stderr: warnings by default, -v info, -vv debug."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("hetspace")
    for handler in list(root.handlers):
        if getattr(handler, "_hetspace_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._hetspace_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)

# --------------------------------------------------------------------------- sweeps
# hetspace.sweeps (Ray, MLflow, pandas) is imported inside the commands, so that
# `hetspace --version`, `models` and `solve` stay fast.

EXIT_INTERRUPTED = 130


@app.command("sweep", cls=_Command)
def sweep_command(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (YAML).", show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder \\[default: out/sweeps/<sweep name>].")] = None,
    num_actors: Annotated[int | None, typer.Option(
        "--num-actors", min=1, help=_ACTORS_HELP)] = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="Join an existing Ray cluster ('auto' or host:port) instead of "
        "starting a local one.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume/--no-resume", help="Skip points already stored in the output folder.")] = True,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Evaluate stored failed points again.")] = False,
    verbose: Verbose = 0,
) -> None:
    """Run a parameter sweep on Ray; store results, tables, plots and an MLflow run."""
    _setup_logging(verbose)  # warnings (e.g. fewer actors than asked for) always show
    _join(address)
    from hetspace.sweeps import load_sweep_spec
    from hetspace.sweeps.runner import default_out_dir

    cfg = _guard(str(spec), load_sweep_spec, spec)
    out_dir = out if out is not None else default_out_dir(cfg)
    _check_out(out_dir)
    console = _console()
    console.print(f"[bold]sweep {cfg.name}[/bold] ({cfg.model.name}): {len(cfg.points)} points "
                  f"-> {out_dir}")
    result = _run_with_progress(cfg, out_dir, num_actors=num_actors, address=address,
                                resume=resume, retry_failed=retry_failed)
    _print_sweep_summary(result)
    if result.n_failed:
        raise typer.Exit(EXIT_ERROR)


def _run_with_progress(cfg: Any, out_dir: Path, **options: Any) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from hetspace.sweeps import run_sweep
    from hetspace.sweeps.runner import SweepLockedError, SweepTerminated

    columns = (TextColumn("points"), BarColumn(), MofNCompleteColumn(),
               TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=_console(), transient=False) as bar:
        task = bar.add_task("points", total=None, failed=0)

        def progress(done: int, failed: int, total: int) -> None:
            bar.update(task, completed=done, total=total, failed=failed)

        try:
            with _sigterm_interrupts():
                return _run_stage(str(cfg.source), run_sweep, cfg, out_dir, progress=progress,
                                  plain=(SweepLockedError,), **options)
        except (KeyboardInterrupt, SweepTerminated, Exception) as e:
            if not interrupted(e):
                raise
            bar.stop()
            _fail(EXIT_INTERRUPTED, [f"interrupted; stored points are kept in {out_dir}, "
                                     "run the same command again to resume"])


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a batch scheduler's stop) ends a sweep or an estimation as Ctrl-C
    does: the run is recorded as KILLED and the "interrupted; ... resume" line printed."""
    from hetspace.sweeps.runner import sigterm_raises

    with sigterm_raises(lambda signum: KeyboardInterrupt(f"signal {signum}")):
        yield


def _run_stage(source: str, fn, *args: Any, plain: tuple[type, ...] = (),
               usage: tuple[type, ...] = (), **kwargs: Any) -> Any:
    """Run a sweep or an estimation ``fn``; what it meets once started ends as error lines.

    A cluster too small for the spec's resources and the ``usage`` errors (a resumed
    study whose spec changed) are config errors (exit 2); no cluster, actors that
    never start, an unreachable tracking server and the ``plain`` errors (a locked
    folder, an existing study) print their own message (exit 1); other hetspace
    errors go through :func:`_guard`.
    """
    from hetspace.sweeps.cluster import ClusterNotFoundError, ClusterStartError, ResourcesError
    from hetspace.sweeps.pool import ActorsNotReadyError
    from hetspace.sweeps.tracking import TrackingUnreachableError

    def run() -> Any:
        try:
            return fn(*args, **kwargs)
        except (ResourcesError, *usage) as e:
            raise InvalidConfigError(source, [str(e)]) from e
        except (ClusterNotFoundError, ClusterStartError, ActorsNotReadyError, *plain) as e:
            _fail(EXIT_ERROR, [str(e)])
        except TrackingUnreachableError as e:
            _fail(EXIT_ERROR, [f"{source}: {e}"])

    return _guard(source, run)


def _join(address: str | None) -> None:
    """Join the cluster at ``--address`` first, so that its absence is known at once
    (exit 1; the spec is not read: an estimation spec solves its baseline); exit 2 for
    an --address that is no Ray address. Without one, the local Ray started later
    listens on 127.0.0.1 only (:func:`_local_ray_on_loopback`)."""
    if address is None:
        _local_ray_on_loopback()
        return
    if not _ADDRESS.match(address):
        _fail(EXIT_CONFIG, [f"--address must be 'auto' or host:port of a Ray head "
                            f"(ray://host:port for Ray Client), got {address!r}"])
    from hetspace.sweeps.cluster import ClusterNotFoundError, connect

    try:
        connect(address)
    except ClusterNotFoundError as e:
        _fail(EXIT_ERROR, [str(e)])


def _local_ray_on_loopback() -> None:
    """Keep the embedded local Ray off the network: its GCS, raylet, workers, agents and
    metrics ports listen on 127.0.0.1 only (they listened on every interface). Ray binds
    them there when the node's address is 127.0.0.1, which it takes only when told it
    runs no cluster (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read once, when Ray is
    imported: hence before any import of Ray; its processes inherit it). Joining a
    cluster (``--address``) does not set it: that driver must be reachable. A user's own
    setting of the variable wins."""
    if "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _check_out(out_dir: Path) -> None:
    """Exit 4 for an --out that cannot be a writable folder; at once, before Ray starts,
    and without creating anything."""
    parent = out_dir
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        _fail(EXIT_OUTPUT, [f"cannot write outputs to {out_dir}: {parent} is not a folder"])
    if not os.access(parent, os.W_OK | os.X_OK):
        _fail(EXIT_OUTPUT, [f"cannot write outputs to {out_dir}: {parent} is not writable"])


_ADDRESS = re.compile(r"^(auto|(ray://)?[A-Za-z0-9.\-\[\]:]+:\d{1,5})$")


def _print_sweep_summary(result: Any) -> None:
    console = _console()
    t = result.timings
    console.print(f"{result.n_points} points: {result.n_evaluated} evaluated, "
                  f"{result.n_skipped} already stored, {result.n_failed} failed; "
                  f"wall {result.wall_seconds:.1f} s (setup {t.get('setup', 0.0):.1f} s)")
    rows = result.results
    if rows is not None and {"status", "error"} <= set(rows.columns):
        partial = rows[(rows["status"] == "ok") & rows["error"].notna()]
        if len(partial):  # solved, but what else was asked of them (a transition) failed
            first = str(partial["error"].iloc[0])
            console.print(f"{len(partial)} solved points have an error (their steady state is "
                          f"kept), e.g.: {first[:300]}", markup=False)
    md = next((p for p in result.tables if p.suffix == ".md"), None)
    if md is not None:
        console.print(md.read_text(encoding="utf-8"), markup=False)
    console.print(f"results: {result.out_dir / 'results.parquet'}")
    if result.tables:
        console.print(f"tables:  {result.out_dir / 'tables'} (md, tex, csv)")
    if result.plots:
        maps = sum(p.name.startswith("map_") for p in result.plots)
        console.print(f"plots:   {result.out_dir / 'plots'} ({len(result.plots)} PNG + PDF"
                      + (f", {maps} maps: map_*.png" if maps else "") + ")")
    if result.report is not None:
        console.print(f"report:  {result.report}")
    if result.run_id:
        console.print(f"MLflow:  {result.tracking_uri} (run {result.run_id}); browse with "
                      f"`mlflow ui --backend-store-uri {result.tracking_uri}`", markup=False)


@app.command("table", cls=_Command)
def table_command(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's output folder.",
                                                show_default=False)],
    moments: Annotated[str | None, typer.Option(
        "--moments", "-m", help="Comma-separated moments \\[default: the spec's, else all].")]
    = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, tex or csv.")] = "md",
) -> None:
    """Print the robustness table of a sweep (pivoted when two axes vary)."""
    from hetspace.sweeps import table_from_dir
    from hetspace.sweeps.tables import FORMATS

    if fmt not in FORMATS:
        _fail(EXIT_CONFIG, [f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}"])
    chosen = None if moments is None else [m.strip() for m in moments.split(",") if m.strip()]
    if chosen == []:
        _fail(EXIT_CONFIG, [f"--moments names no moment, got {moments!r} (comma-separated "
                            "names; leave it out for the spec's)"])
    try:
        text = _guard(str(results_dir), table_from_dir, results_dir, chosen, fmt)
    except FileNotFoundError as e:
        _fail(EXIT_CONFIG, [str(e)])
    typer.echo(text, nl=False)


@app.command("plot", cls=_Command)
def plot_command(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's output folder.",
                                                show_default=False)],
    map_moment: Annotated[str | None, typer.Option(
        "--map", help="Draw a map of this moment by location (population_change, "
        "welfare_change, population_share, ...) instead of the moment plots.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="The point of the map, by axis values (theta=0.5,gamma=2) "
        "\\[default: the first point that has the moment; for a change, the first "
        "shocked one].")] = None,
) -> None:
    """Draw a sweep's plots (PNG and PDF in RESULTS_DIR/plots), or with --map a map."""
    from hetspace.sweeps.maps import map_from_dir
    from hetspace.sweeps.tables import plots_from_dir

    if at is not None and map_moment is None:
        _fail(EXIT_CONFIG, ["--at goes with --map"])
    where = _axis_values(at) if at is not None else None
    try:
        if map_moment is not None:
            paths = _guard(str(results_dir), map_from_dir, results_dir, map_moment, where)
        else:
            paths = _guard(str(results_dir), plots_from_dir, results_dir)
    except FileNotFoundError as e:
        _fail(EXIT_CONFIG, [str(e)])
    except OSError as e:
        _fail(EXIT_OUTPUT, [f"cannot write plots to {results_dir}: {e.strerror or e}"])
    for path in paths:
        typer.echo(str(path))


def _axis_values(text: str) -> dict[str, str]:
    """'theta=0.5,gamma=2' -> {'theta': '0.5', 'gamma': '2'}; exit 2 if malformed."""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in pairs if p.count("=") != 1 or not all(x.strip() for x in p.split("="))]
    if bad or not pairs:
        _fail(EXIT_CONFIG, [f"--at must be axis=value pairs separated by commas "
                            f"(theta=0.5,gamma=2), got {text!r}"])
    return {k.strip(): v.strip() for k, v in (p.split("=") for p in pairs)}


@app.command("report", cls=_Command)
def report_command(
    results_dir: Annotated[Path, typer.Argument(help="A sweep's output folder.",
                                                show_default=False)],
) -> None:
    """Write RESULTS_DIR/report.html (tables, plots, diagnostics, the spec) and log it to
    the sweep's MLflow run if the folder's store holds it."""
    from hetspace.sweeps.report import report_from_dir

    try:
        path, run_id = _guard(str(results_dir), report_from_dir, results_dir)
    except FileNotFoundError as e:
        _fail(EXIT_CONFIG, [str(e)])
    except OSError as e:
        _fail(EXIT_OUTPUT, [f"cannot write the report to {results_dir}: {e.strerror or e}"])
    typer.echo(f"report: {path}" + (f" (logged to MLflow run {run_id})" if run_id else ""))


@app.command("sensitivity", cls=_Command)
def sensitivity_command(
    results_dir: Annotated[Path, typer.Argument(help="A sampled sweep's output folder.",
                                                show_default=False)],
    moment: Annotated[list[str] | None, typer.Option(
        "--moment", "-m", help="A moment to analyse (repeat) \\[default: the spec's].",
        show_default=False)] = None,
    shock: Annotated[str, typer.Option(
        "--shock", help="The points analysed: 'none' (unshocked) or a shock's label "
        "('loc 2 -0.01', whose points carry its effects).")] = "none",
) -> None:
    """Global sensitivity of a sampled sweep: Sobol indices (design: sobol) or Morris
    effects (design: morris) of each moment, with bootstrap intervals (SALib); writes
    RESULTS_DIR/sensitivity.csv, sensitivity.md and a bar plot per moment."""
    from hetspace.sweeps.sensitivity import sensitivity_from_dir

    try:
        _table, written = _guard(str(results_dir), sensitivity_from_dir, results_dir,
                                moment, shock)
    except FileNotFoundError as e:
        _fail(EXIT_CONFIG, [str(e)])
    except OSError as e:
        _fail(EXIT_OUTPUT, [f"cannot write to {results_dir}: {e.strerror or e}"])
    typer.echo(written[1].read_text(encoding="utf-8"))
    typer.echo("written: " + ", ".join(str(p) for p in written))


@app.command("runs", cls=_Command)
def runs_command(
    dirs: Annotated[list[Path] | None, typer.Argument(
        help="Folders searched for sweep stores (mlflow.db) \\[default: out].",
        show_default=False)] = None,
    tracking_uri: Annotated[str | None, typer.Option(
        "--tracking-uri", help="Also list runs from this MLflow store.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                       help="The most recent runs listed.")] = 20,
) -> None:
    """List recent sweeps and estimations recorded in MLflow.

    A folder that does not exist, or a --tracking-uri that names no store, is an
    error (exit 2; nothing is created). A store that cannot be read is named on
    stderr after the others are listed (exit 1).
    """
    from hetspace.sweeps import list_runs

    for d in dirs or []:
        if not d.is_dir():
            _fail(EXIT_CONFIG, [f"{d}: {'not a folder' if d.exists() else 'no such folder'}"])
    if tracking_uri is not None:
        _check_store(tracking_uri)
    searched = dirs or [Path("out")]
    uris = [f"sqlite:///{db.resolve()}" for d in searched if d.is_dir()
            for db in sorted(d.rglob("mlflow.db")) if db.is_file()]  # (a folder: MLflow hangs)
    uris += [tracking_uri] if tracking_uri else []
    broken: list[str] = []
    rows = list_runs(uris, limit=limit, errors=broken) if uris else []
    if not rows:
        where = ", ".join(map(str, searched)) + (f" or {tracking_uri}" if tracking_uri else "")
        hint = "" if dirs else " (name the folders your sweeps wrote to: hetspace runs DIR ...)"
        typer.echo(f"no sweep or estimation runs found in {where}{hint}")
    else:
        _print_runs(rows)
        if not dirs:  # runs written elsewhere (--out) are not in this list
            typer.echo("searched out/ only; runs written elsewhere with --out: "
                       "hetspace runs DIR ...")
    for problem in broken:
        typer.echo(f"error: cannot read the MLflow store {problem}", err=True)
    if broken:
        raise typer.Exit(EXIT_ERROR)


def _check_store(uri: str) -> None:
    """Exit 2 unless ``uri`` can name an existing store (a SQLite file must exist: it is
    not created), exit 1 if its server does not answer."""
    from hetspace.sweeps.tracking import TrackingUnreachableError, check_reachable
    from hetspace.sweeps.tracking import tracking_uri_problem as problem

    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        _fail(EXIT_CONFIG, [f"--tracking-uri {uri}: no such database file"])
    why = problem(uri)
    if why is not None:
        _fail(EXIT_CONFIG, [f"--tracking-uri: {why}, got {uri!r}"])
    if "://" not in uri or uri.startswith("file:"):
        folder = Path(urllib.parse.urlsplit(uri).path if uri.startswith("file:") else uri)
        if not folder.is_dir():
            _fail(EXIT_CONFIG, [f"--tracking-uri {uri}: no such folder"])
    try:
        check_reachable(uri)
    except TrackingUnreachableError as e:
        _fail(EXIT_ERROR, [str(e).replace("tracking.tracking_uri", "--tracking-uri", 1)])


def _print_runs(rows: list[dict[str, Any]]) -> None:
    table = Table(title="recent sweeps and estimations", title_justify="left")
    for col in ("started", "name", "kind", "status", "points", "failed", "wall s", "output",
                "run id"):  # the long paths and ids wrap, not the short words
        table.add_column(col, no_wrap=col in ("name", "kind", "status"))
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((r["start"] or 0) / 1000))
        table.add_row(started, str(r["name"]), r["kind"], r["status"], _num(r["points"]),
                      _num(r["failed"]), _num(r["wall_s"], "{:.1f}"), r["out_dir"], r["run_id"])
    _console().print(table)


def _num(value: Any, fmt: str = "{:.0f}") -> str:
    return "" if value is None else fmt.format(value)


# --------------------------------------------------------------------------- estimation
# hetspace.estimation (Optuna, Ray, MLflow) is imported inside the command.


@app.command("estimate", cls=_Command)
def estimate_command(
    spec: Annotated[Path, typer.Argument(help="Estimation spec (YAML).", show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder \\[default: out/estimation/<name>].")] = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="Join an existing Ray cluster ('auto' or host:port) instead of "
        "starting a local one.")] = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue the study stored in the output folder.")] = False,
    num_actors: Annotated[int | None, typer.Option(
        "--num-actors", min=1, help=_ACTORS_HELP)] = None,
    verbose: Verbose = 0,
) -> None:
    """Estimate parameters by moment matching / indirect inference (Optuna on Ray actors),
    or, for a spec of kind earnings_process, the earnings process by GMM."""
    _setup_logging(verbose)
    _join(address)
    from hetspace.estimation.driver import default_out_dir
    from hetspace.estimation.earnings_spec import EarningsSpec
    from hetspace.estimation.spec import load_spec

    cfg = _guard(str(spec), load_spec, spec)
    if isinstance(cfg, EarningsSpec):
        given = [flag for flag, on in (("--address", address is not None), ("--resume", resume),
                                       ("--num-actors", num_actors is not None)) if on]
        if given:
            _fail(EXIT_CONFIG, [f"{spec}: {', '.join(given)}: an earnings_process spec runs "
                                "in this process (no Ray actors, no study to resume)"])
        _estimate_earnings(cfg, out if out is not None else default_out_dir(cfg))
        return
    out_dir = out if out is not None else default_out_dir(cfg)
    _check_out(out_dir)
    _console().print(f"[bold]estimate {cfg.name}[/bold] ({cfg.model.name}, {cfg.method}): "
                     f"{', '.join(cfg.names)} from {', '.join(cfg.objective.names)} -> {out_dir}")
    result = _estimate_with_progress(cfg, out_dir, address=address, resume=resume,
                                     num_actors=num_actors)
    _print_estimation_summary(result)


def _estimate_earnings(cfg: Any, out_dir: Path) -> None:
    """The GMM of an earnings_process spec: its table, its files; exit 3 if least squares
    did not converge (the table and files are still written)."""
    from hetspace.estimation.earnings_spec import run_earnings_spec
    from hetspace.estimation.report import markdown

    _check_out(out_dir)
    seen = cfg.panel.u == cfg.panel.u  # observed (not NaN)
    console = _console()
    console.print(f"[bold]estimate {cfg.name}[/bold] (earnings_process, GMM): autocovariances "
                  f"to lag {cfg.max_lag} of {int(seen.any(axis=1).sum())} households over "
                  f"{int(seen.any(axis=0).sum())} years -> {out_dir}")
    try:
        run = _guard(str(cfg.source), run_earnings_spec, cfg, out_dir)
    except OSError as e:
        _fail(EXIT_OUTPUT, [f"cannot write outputs to {out_dir}: {e.strerror or e}"])
    console.print(f"{run.gmm.n_moments} moments, objective {run.gmm.objective:.3e}")
    console.print(markdown(run.table), markup=False)
    console.print(f"outputs: {out_dir}")
    if not run.gmm.converged:
        _fail(EXIT_SOLVER, [f"{cfg.source}: earnings GMM: least squares did not converge "
                            f"(objective {run.gmm.objective:.3e})"])


def _estimate_with_progress(cfg: Any, out_dir: Path, **options: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hetspace.estimation import StudyChangedError, StudyExistsError, estimate

    columns = (TextColumn("trials"), BarColumn(), MofNCompleteColumn(),
               TextColumn("best Q {task.fields[best]}"), TimeElapsedColumn())
    with Progress(*columns, console=_console(), transient=False) as bar:
        task = bar.add_task("trials", total=cfg.optimizer.n_trials, best="-")

        def progress(done: int, wanted: int, best: float) -> None:
            bar.update(task, completed=done, total=wanted, best=f"{best:.3e}")

        try:
            with _sigterm_interrupts():
                return _run_stage(str(cfg.source), estimate, cfg, out_dir, progress=progress,
                                  plain=(StudyExistsError,), usage=(StudyChangedError,),
                                  **options)
        except (KeyboardInterrupt, Exception) as e:
            if not interrupted(e):
                raise
            bar.stop()
            _fail(EXIT_INTERRUPTED, [f"interrupted; the study is kept in {out_dir}, "
                                     "run the same command with --resume to continue"])


def _print_estimation_summary(result: Any) -> None:
    from hetspace.estimation.report import estimates_table, fit_table, markdown

    console = _console()
    console.print(f"objective {result.objective:.3e} "
                  f"(best trial {result.best_trial_objective:.3e}); {result.solves} solves, "
                  f"{result.solve_seconds:.1f} s solving, "
                  f"wall {result.wall_seconds:.1f} s")
    console.print(markdown(estimates_table(result)), markup=False)
    console.print(markdown(fit_table(result)), markup=False)
    inf = result.inference
    if inf.df > 0 and inf.J == inf.J:
        console.print(f"J = {inf.J:.3f} (df {inf.df}, p = {inf.p_value:.3f})")
    for name in inf.identification.weak:
        console.print(f"warning: {name} looks weakly identified", markup=False)
    console.print(f"outputs: {result.out_dir}")
    if result.run_id:
        console.print(f"MLflow:  {result.tracking_uri} (run {result.run_id})", markup=False)


if __name__ == "__main__":  # pragma: no cover
    app()
