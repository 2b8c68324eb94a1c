"""Shared fixtures: a tiny closed-form model registered for CLI and config tests.

``toy_sqrt`` solves x**2 = a by Newton's method (closed form: x = sqrt(a)), so
tests of the CLI and the config loader do not depend on any real model's
numerics. It follows the model protocol (DESIGN.md section 2): validated
frozen Params/Numerics, ``solve(params, numerics=None, warm_start=None)``, a
frozen solution with ``converged``, ``n_iter``, ``residuals``, ``moments()``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hetspace.core.errors import SolverConvergenceError
from hetspace.core.protocol import REGISTRY, ModelSpec, Record, readonly, register_model
from hetspace.core.validation import Checker

REPO_ROOT = Path(__file__).resolve().parents[1]
TOY_NAME = "toy_sqrt"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ToyParams(Record):
    """a: the number whose square root is sought (> 0). weights: (n,) non-negative weights."""

    a: float
    weights: np.ndarray = dataclasses.field(default_factory=lambda: np.ones(1))

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "a", gt=0.0)
        check.array(self, "weights", ndim=1, ge=0.0)
        check.done()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ToyNumerics(Record):
    """tol on |x**2 - a| / a; max_iter Newton steps; raise_on_failure False returns unconverged."""

    tol: float = 1e-12
    max_iter: int = 100
    raise_on_failure: bool = True

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "tol", gt=0.0)
        check.scalar(self, "max_iter", ge=1, integer=True)
        check.done()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ToySolution:
    """x: (1,) the root. path: (n_iter + 1,) Newton iterates from the start value."""

    x: np.ndarray
    path: np.ndarray
    converged: bool
    n_iter: int
    residuals: dict[str, float]
    params: ToyParams
    numerics: ToyNumerics

    def moments(self) -> dict[str, float]:
        root = float(self.x[0])
        return {"root": root, "weighted_root": float(np.sum(self.params.weights)) * root,
                "log_root": math.log(root)}


def toy_solve(params: ToyParams, numerics: ToyNumerics | None = None,
              warm_start: ToySolution | None = None) -> ToySolution:
    """Newton's method on x**2 - a = 0 from max(a, 1) (or a warm start's root)."""
    numerics = numerics or ToyNumerics()
    a = params.a
    x = float(warm_start.x[0]) if warm_start is not None else max(a, 1.0)
    path = [x]
    res = abs(x * x - a) / a
    n_iter = 0
    while res > numerics.tol and n_iter < numerics.max_iter:
        x = 0.5 * (x + a / x)
        path.append(x)
        n_iter += 1
        res = abs(x * x - a) / a
    converged = res <= numerics.tol
    if not converged and numerics.raise_on_failure:
        raise SolverConvergenceError("toy_sqrt Newton iteration stopped",
                                     residuals={"relative_error": res}, n_iter=n_iter)
    return ToySolution(x=readonly(np.array([x])), path=readonly(np.array(path)),
                       converged=converged, n_iter=n_iter,
                       residuals={"relative_error": res}, params=params, numerics=numerics)


TOY_SPEC = ModelSpec(name=TOY_NAME, description="square root by Newton (test model)",
                     Params=ToyParams, Numerics=ToyNumerics, solve=toy_solve)


def register_toy() -> None:
    """Register the toy model in this process (used by subprocess tests too)."""
    register_model(TOY_SPEC)


@pytest.fixture
def toy_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelSpec]:
    """The toy model, registered for one test; the registry is restored afterwards."""
    monkeypatch.setattr(REGISTRY, "_paths", dict(REGISTRY._paths))
    monkeypatch.setattr(REGISTRY, "_loaded", dict(REGISTRY._loaded))
    register_toy()
    yield TOY_SPEC


@pytest.fixture
def write_config(tmp_path: Path):
    """write_config(text, name="cfg.yaml") -> path of a config file in tmp_path."""

    def write(text: str, name: str = "cfg.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def example_configs() -> list[Path]:
    """The shipped model configs (each must load and solve)."""
    return sorted((REPO_ROOT / "configs" / "models").glob("*.yaml"))


# --- Ray for the sweep and estimation tests ------------------------------------------------

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # before Ray starts; subprocesses inherit it


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray for the whole session (2 CPUs, dashboard off), shut down at the end."""
    import ray

    started = False
    if not ray.is_initialized():
        kw = dict(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
                  logging_level="WARNING")
        try:
            ray.init(**kw)
        except Exception as err:  # Ray raises a bare Exception here
            # Ray waits a hard-coded 30 s for its raylet to register (ray/_private/node.py);
            # on a machine saturated by other processes that can pass (seen once, load
            # average ~10 on 2 cores, while a CI run started its own cluster). Start again
            # once; a second failure is real.
            if "timed out during startup" not in str(err):
                raise
            ray.shutdown()
            ray.init(**kw)
        started = True
    yield
    if started:
        ray.shutdown()


# --- a real Ray head for the cluster entry-point tests -----------------------------------


class RayHead:
    """A head started with ``ray start --head --block`` on 127.0.0.1 (own temp dir, token
    authentication off); ``submit`` runs hetspace/submit.py against it."""

    def __init__(self) -> None:
        import os
        import subprocess
        import sys
        import tempfile

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled",
                    "RAY_ADDRESS": f"127.0.0.1:{self.port}"}
        self.tmp = tempfile.mkdtemp(prefix="hsray", dir="/tmp")  # unix socket paths <= 107
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head",
             f"--port={self.port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
             "--include-dashboard=false", f"--temp-dir={self.tmp}", "--block"],
            env={k: v for k, v in self.env.items() if k != "RAY_ADDRESS"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def submit(self, args: list[str], wait: float = 90.0):
        """Run hetspace/submit.py with ``args``, retrying while the head is not up yet."""
        import subprocess
        import sys
        import time

        deadline = time.monotonic() + wait
        while True:  # the head needs a few seconds before it accepts drivers
            done = subprocess.run([sys.executable, str(REPO_ROOT / "hetspace" / "submit.py"),
                                   *map(str, args)], env=self.env, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 1 or "no running Ray cluster" not in done.stderr \
                    or time.monotonic() > deadline:
                return done
            time.sleep(2)

    def stop(self) -> None:
        """Stop this head only (``ray stop`` would stop every Ray on the machine)."""
        import os
        import shutil
        import signal
        import subprocess

        self.process.send_signal(signal.SIGTERM)  # `ray start --block` stops on SIGTERM
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # what is left of its process group
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def ray_head() -> Iterator[RayHead]:
    """A fresh local Ray head for one test, stopped afterwards."""
    head = RayHead()
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture
def run_notebook(monkeypatch: pytest.MonkeyPatch):
    """run(nb, out_dir): execute ``nb`` in a fresh kernel (it starts its own local Ray)
    with its outputs in ``out_dir`` (HETSPACE_NOTEBOOK_OUT); returns the text its code
    cells printed."""
    return lambda nb, out_dir: _run_notebook(nb, out_dir, monkeypatch)


def _run_notebook(nb, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    import os
    import sys

    from nbclient import NotebookClient

    monkeypatch.setenv("HETSPACE_NOTEBOOK_OUT", str(out_dir))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(out_dir)}})
    client.execute(env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:"
                        + os.environ.get("PATH", "")})
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
