"""The ``hetspace`` command line.

Commands::

    hetspace --version
    hetspace models                       # registered models and what they are
    hetspace solve CONFIG.yaml [--out DIR] [-v]

``solve`` loads and validates the config, solves the model, prints a summary
(convergence, iterations, time, residuals, moments) and writes
``solution.npz`` (the solution's arrays) and ``summary.json`` into ``--out``
(default ``out/<config stem>``), each written atomically.

Errors the user can fix print one line per problem on stderr, prefixed with
``error:``, and no traceback. Exit codes:

    0  success
    1  another hetspace error (e.g. a model evaluation failed)
    2  usage or config error: missing file, bad YAML, unknown model, invalid params
    3  the solver did not converge
    4  the outputs could not be written
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
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
)
from hetspace.core.protocol import get_model, list_models, solution_arrays

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_SOLVER = 3
EXIT_OUTPUT = 4

logger = logging.getLogger("hetspace.cli")

app = typer.Typer(
    name="hetspace",
    help="Solve, sweep and estimate heterogeneous-agent spatial equilibrium models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

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


@app.command("models")
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


@app.command("solve")
def solve_command(
    config: Annotated[Path, typer.Argument(help="Model config (YAML).", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder [default: out/<config stem>]."),
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


def _fail(code: int, lines: list[str]) -> NoReturn:
    for line in lines:
        typer.echo(f"error: {' '.join(line.split())}", err=True)
    raise typer.Exit(code)


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


if __name__ == "__main__":  # pragma: no cover
    app()
