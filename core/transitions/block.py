"""What a heterogeneous-agent block offers the transition machinery, and its
nonlinear perfect-foresight path at given input paths.

A block is a household problem solved backward in time (a backward state, e.g.
consumption and values, maps to the previous period's at that period's inputs),
a distribution moved forward by the policies, and aggregate outputs of the
distribution and policies; all around a steady state. Inputs and outputs are
scalar series named by ``inputs`` and ``outputs`` (one entry per location and
price, say); at date t the block sees the input vector x_t (n_in,) and, for the
continuation value, x_{t+1} (prices that enter next period's marginal value of
assets, e.g. r_{t+1}).

Timing: dist_t is the mass at the start of period t; ``backward(state_{t+1},
x_t, x_{t+1})`` returns (state_t, policy_t); ``forward(dist_t, policy_t)`` is
dist_{t+1}; ``aggregate(dist_t, policy_t)`` the outputs Y_t. Before date 0 and
after date T - 1 the inputs are at the steady state, so the terminal backward
state is the steady state's.

The linearised methods are derivatives at the steady state and take directions
batched along the last axis (k of them); how the block computes them
(closed form, differences of its own steps) is its business. The fake-news
algorithm (``fake_news.py``) uses only these, and optional faster equivalents
if a block has them (``fake_news_backward``, ``expectation_vectors``,
``output_identities``; ``initial_jvp`` for a date-0 distribution chosen with
foresight); ``nonlinear_path`` only the nonlinear ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidParamsError, Violation

__all__ = ["HetBlock", "OutputIdentity", "Path", "nonlinear_path"]


@runtime_checkable
class HetBlock(Protocol):
    """A heterogeneous-agent block around its steady state (module docstring)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def steady_inputs(self) -> np.ndarray:
        """(n_in,) the inputs at the steady state."""

    def steady_backward(self) -> Any:
        """The backward state (e.g. consumption and values) at the steady state."""

    def steady_distribution(self) -> np.ndarray:
        """(N,) the steady-state distribution, flattened."""

    def backward(self, state_next: Any, x_now: np.ndarray, x_next: np.ndarray
                 ) -> tuple[Any, Any]:
        """(state_t, policy_t) from state_{t+1} and the inputs x_t, x_{t+1}."""

    def forward(self, dist: np.ndarray, policy: Any) -> np.ndarray:
        """dist_{t+1} (N,) from dist_t (N,) and policy_t."""

    def aggregate(self, dist: np.ndarray, policy: Any) -> np.ndarray:
        """(n_out,) outputs Y_t of dist_t and policy_t."""

    def backward_jvp(self, d_state_next: np.ndarray | None, dx_now: np.ndarray | None,
                     dx_next: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """Linearised ``backward`` at the steady state: (d state_t, d policy_t) for
        directions d state_{t+1} (n_state, k), dx_t and dx_{t+1} (n_in, k); None is zero."""

    def forward_jvp(self, d_policy: Any) -> np.ndarray:
        """(N, k) d dist_{t+1} from d policy_t at the steady-state distribution."""

    def aggregate_jvp(self, d_policy: Any) -> np.ndarray:
        """(n_out, k) d Y_t from d policy_t at the steady-state distribution."""

    def expectation_step(self, E: np.ndarray) -> np.ndarray:
        """(N, m) Lambda' E: E_{t+1}(x) = sum_x' Lambda_ss(x -> x') E_t(x')."""

    def output_vectors(self) -> np.ndarray:
        """(N, n_out) the steady-state outputs as vectors: Y = o' dist at fixed policies."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputIdentity:
    """An output that is exactly a linear function of another output and the inputs
    around the steady state (an accounting identity, say an aggregate budget):

        d Y_output,t = now d Y_base,t + lag d Y_base,t-1 + sum_i direct[i] d x_i,t,

    for every t >= 0 and every input path, with d Y_base,-1 = 0 (the date-0
    distribution at the steady state). A block that knows such identities offers them
    through an optional ``output_identities()`` (a sequence of these); the fake-news
    algorithm then computes the base's Jacobian only and derives the output's from it
    (``fake_news``), which saves the output's expectation vectors and its share of the
    matrix product. Inputs missing from ``direct`` enter with zero."""

    output: str
    base: str
    now: float = 0.0
    lag: float = 0.0
    direct: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Path:
    """A perfect-foresight path of a block. outputs: (T, n_out) Y_t; dist: (T + 1, N)
    dist_0 .. dist_T; inputs: (T, n_in) the x_t used; names as the block's."""

    inputs: np.ndarray
    outputs: np.ndarray
    dist: np.ndarray
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def output(self, name: str) -> np.ndarray:
        """(T,) the path of one output."""
        return self.outputs[:, _index(self.output_names, name, "output")]


def nonlinear_path(block: HetBlock, x_path: np.ndarray,
                   dist0: np.ndarray | None = None, initial: Any = None) -> Path:
    """The block's outputs along input paths x_path (T, n_in), dates 0..T-1, with
    inputs at the steady state from date T on and dist_0 = ``dist0`` (default the
    steady state's), or ``initial(state_0)`` if given: a date-0 distribution chosen
    the period before with foresight of the paths (its linearisation is the block's
    ``initial_jvp``, ``fake_news_jacobian(..., initial=True)``). One backward pass
    storing the policies, one forward pass."""
    x_ss = block.steady_inputs()
    x_path = _check_path(block, x_path, x_ss)
    T = x_path.shape[0]
    state = block.steady_backward()
    policies = [None] * T
    for t in range(T - 1, -1, -1):
        x_next = x_path[t + 1] if t + 1 < T else x_ss
        state, policies[t] = block.backward(state, x_path[t], x_next)
    if initial is not None:
        dist = np.asarray(initial(state), dtype=float)
    else:
        dist = block.steady_distribution() if dist0 is None else np.asarray(dist0, dtype=float)
    dists = np.empty((T + 1, dist.size))
    dists[0] = dist
    outputs = np.empty((T, len(block.outputs)))
    for t in range(T):
        outputs[t] = block.aggregate(dists[t], policies[t])
        dists[t + 1] = block.forward(dists[t], policies[t])
    return Path(x_path, outputs, dists, tuple(block.inputs), tuple(block.outputs))


def _check_path(block, x_path, x_ss) -> np.ndarray:
    x = np.asarray(x_path, dtype=float)
    n_in = len(block.inputs)
    problems = []
    if x.ndim != 2 or x.shape[1] != n_in or x.shape[0] < 1:
        problems.append(Violation("x_path", f"must have shape (T >= 1, {n_in}) (inputs "
                                  f"{', '.join(block.inputs)})", getattr(x, "shape", None)))
    elif not np.all(np.isfinite(x)):
        t, i = np.argwhere(~np.isfinite(x))[0]
        problems.append(Violation(f"x_path[{t}, {i}] ({block.inputs[i]})", "must be finite",
                                  float(x[t, i])))
    if x_ss.shape != (n_in,):
        problems.append(Violation("steady_inputs", f"must have shape ({n_in},)", x_ss.shape))
    if problems:
        raise InvalidParamsError("nonlinear_path", problems)
    return x


def _index(names, name, kind) -> int:
    try:
        return names.index(name)
    except ValueError:
        raise InvalidParamsError("transitions", [Violation(
            kind, f"must be one of {list(names)}", name)]) from None
