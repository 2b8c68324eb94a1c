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
