"""The error hierarchy every hetspace component raises (STYLE.md, "Errors and logging").

Kernels never raise; the Python wrappers turn their status codes into these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class HetspaceError(Exception):
    """Base class of every error hetspace raises on purpose."""


class Described(str):
    """A description standing in for a value in messages (shown without quotes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Violation:
    """One violated condition: the field (with index if any), what must hold, the value seen."""

    field: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        shown = _short_repr(self.value)
        return f"{self.field}: {self.message}, got {shown}"


class InvalidParamsError(HetspaceError, ValueError):
    """Parameters or data violate the model's conditions; lists every violation at once."""

    def __init__(self, owner: str, violations: Sequence[Violation]):
        self.owner = owner
        self.violations = tuple(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        n = len(self.violations)
        super().__init__(f"{owner}: {n} invalid value{'s' if n != 1 else ''}:\n{lines}")


class InvalidConfigError(HetspaceError, ValueError):
    """A configuration file is unreadable or invalid; messages name the path in the file."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}:\n{lines}" if self.problems else source)


class DataSourceError(InvalidConfigError):
    """A problem with an observed-data source a model reads (``ModelSpec.observed``):
    ``key`` in the source mapping ("" for the whole mapping) and the text."""

    def __init__(self, what: str, key: str, text: str):
        self.key, self.text = key, text
        super().__init__(what + (f" ({key})" if key else ""), [text])


class SolverConvergenceError(HetspaceError, RuntimeError):
    """A solver stopped without meeting its tolerance; carries residuals and iteration counts."""

    def __init__(
        self,
        message: str,
        *,
        residuals: Mapping[str, float] | None = None,
        n_iter: int | Mapping[str, int] | None = None,
    ):
        self.residuals = dict(residuals or {})
        self.n_iter = n_iter
        detail = ", ".join(f"{k}={v:.3g}" for k, v in self.residuals.items())
        text = message
        if detail:
            text += f" (residuals: {detail})"
        if n_iter is not None:
            text += f" after {n_iter} iterations"
        super().__init__(text)


class ModelEvaluationError(HetspaceError, RuntimeError):
    """A model evaluation inside a sweep or estimation failed for a reason other than bad input."""


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def interrupted(exc: BaseException | None) -> bool:
    """True for a KeyboardInterrupt (Ctrl-C; SIGTERM in the CLI), and for an error raised
    while a library cleaned up after one (Optuna's journal lock released twice, for
    instance): what happened is the interrupt."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
