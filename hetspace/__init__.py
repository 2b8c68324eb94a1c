"""hetspace: heterogeneous-agent dynamic spatial general equilibrium at scale."""

from ._version import __version__
from .core import (
    HetspaceError,
    InvalidConfigError,
    InvalidParamsError,
    ModelEvaluationError,
    SolverConvergenceError,
    get_model,
    list_models,
)

__all__ = [
    "HetspaceError",
    "InvalidConfigError",
    "InvalidParamsError",
    "ModelEvaluationError",
    "SolverConvergenceError",
    "__version__",
    "get_model",
    "list_models",
]
