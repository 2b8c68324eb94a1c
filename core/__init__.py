"""hetspace.core: models and numerics. Never imports Ray, Optuna or MLflow."""

from .errors import (
    Described,
    HetspaceError,
    InvalidConfigError,
    InvalidParamsError,
    ModelEvaluationError,
    SolverConvergenceError,
    Violation,
)
from .protocol import ModelSpec, Record, Solution, get_model, list_models, register_model

__all__ = [
    "Described",
    "HetspaceError",
    "InvalidConfigError",
    "InvalidParamsError",
    "ModelEvaluationError",
    "ModelSpec",
    "Record",
    "Solution",
    "SolverConvergenceError",
    "Violation",
    "get_model",
    "list_models",
    "register_model",
]
