"""Sequence-space Jacobians of a heterogeneous block by the fake-news algorithm
(Auclert, Bardoczy, Rognlie and Straub 2021, Econometrica 89, section 3.2).

For a shock to input i at date s (an "MIT shock" announced at date 0), the
output at date t responds by J[t, s]. Because the block is time-invariant around
its steady state, everything follows from T backward steps per input (the
"news" that a shock is s periods away) and T expectation vectors per output:

1. backward: the policy change at date 0 from news of a shock at s, for s =
   0..T-1 (one linearised backward step each from the previous horizon's state
   change): its effect on outputs at date 0, curlyY[s] = d o_0' D_ss, and on the
   distribution at date 1, curlyD[s] = d Lambda_0' D_ss;
2. expectation vectors curlyE[t] = (Lambda_ss)^t o for t = 0..T-2 (the expected
   output t periods ahead from each state);
3. the fake-news matrix F[0, s] = curlyY[s], F[t, s] = curlyE[t-1]' curlyD[s];
4. J[t, s] = F[t, s] + J[t-1, s-1].

Cost: T linearised backward steps for all inputs at once (batched), T - 1
expectation steps for all outputs at once, and one matrix product of
(n_out (T-1)) x N by N x (T n_in). Memory: curlyD (T N n_in) and curlyE
(T N n_out) floats, only for the ``outputs`` asked for. With J locations, n_in,
n_out and N all grow like J, so memory grows like J^2 T n_a S and the product
like J^3 T^2 n_a S (the 48-location economy will need chunks of outputs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from .block import HetBlock, _index

__all__ = ["SequenceJacobian", "fake_news_jacobian"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SequenceJacobian:
    """J[o, i, t, s] = d Y_o,t / d x_i,s around the steady state; (n_out, n_in, T, T)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    J: np.ndarray

    @property
    def T(self) -> int:
        return int(self.J.shape[-1])

    def get(self, output: str, input: str) -> np.ndarray:
        """(T, T) the block of one output and one input."""
        return self.J[_index(self.outputs, output, "output"), _index(self.inputs, input, "input")]

    def apply(self, dx: np.ndarray) -> np.ndarray:
        """(T, n_out) linear response dY to input deviations dx (T, n_in), inputs in order."""
        dx = np.asarray(dx, dtype=float)
        if dx.shape != (self.T, len(self.inputs)):
            raise InvalidParamsError("SequenceJacobian.apply", [Violation(
                "dx", f"must have shape ({self.T}, {len(self.inputs)})", dx.shape)])
        return np.einsum("oits,si->to", self.J, dx)


def fake_news_jacobian(block: HetBlock, T: int, inputs: Sequence[str] | None = None,
                       outputs: Sequence[str] | None = None, *,
                       initial: bool = False) -> SequenceJacobian:
    """The block's sequence-space Jacobian for ``inputs`` and ``outputs`` (default all)
    over T periods, by the fake-news algorithm (module docstring).

    ``initial``: the date-0 distribution is chosen at the date before with foresight
    of the paths (``nonlinear_path(..., initial=block.initial)``; contingent plans, as
    the planner's promises for a shock that arrives with vanishing probability), so it
    moves with the date-0 backward state: dist_0 = R(state_0), linearised by the
    block's ``initial_jvp``. News of a shock s periods ahead moves state_0 by the
    backward pass's state at horizon s, hence dist_0 by curlyR[s] = initial_jvp(that),
    and the outputs at t by curlyE[t]' curlyR[s], added to the time-invariant part.
    """
    names = tuple(block.inputs) if inputs is None else tuple(inputs)
    outs = tuple(block.outputs) if outputs is None else tuple(outputs)
    _check(block, T, names, outs)
    if initial and not callable(getattr(block, "initial_jvp", None)):
        raise InvalidParamsError("fake_news_jacobian", [Violation(
            "initial", "needs a block with initial_jvp (a date-0 distribution chosen with "
            "foresight)", type(block).__name__)])
    sel = [block.inputs.index(name) for name in names]
    rows = [block.outputs.index(name) for name in outs]
    n_in, k = len(block.inputs), len(sel)
    unit = np.zeros((n_in, k))
    unit[sel, np.arange(k)] = 1.0
    curly_y, curly_d, curly_r = _backward_pass(block, T, unit, rows, initial)
    curly_e = _expectation_vectors(block, T if initial else T - 1, rows)
    F = _fake_news_matrix(curly_y, curly_d, curly_e[:, :T - 1])
    for t in range(1, T):
        F[:, :, t, 1:] += F[:, :, t - 1, :-1]
    if initial:
        N = curly_r.shape[0]
        k = curly_r.shape[2]
        for o in range(len(rows)):  # F[o, i, t, s] += curlyE[o, t] . curlyR[:, s, i]
            F[o] += (curly_e[o] @ curly_r.reshape(N, T * k)).reshape(T, T, k).transpose(2, 0, 1)
    return SequenceJacobian(names, outs, F)


def _backward_pass(block, T, unit, rows, initial=False):
    """curlyY (T, n_out, k) and curlyD (N, T, k): effects at dates 0 and 1 of the news
    at date 0 of shocks s = 0..T-1 periods ahead; with ``initial``, curlyR (N, T, k):
    their effects on the date-0 distribution (None otherwise)."""
    d_state, d_pol = block.backward_jvp(None, unit, None)
    y0, d0 = block.aggregate_jvp(d_pol)[rows], block.forward_jvp(d_pol)
    curly_y = np.empty((T, *y0.shape))
    curly_d = np.empty((d0.shape[0], T, d0.shape[1]))
    curly_r = np.empty_like(curly_d) if initial else None
    curly_y[0], curly_d[:, 0] = y0, d0
    if initial:
        curly_r[:, 0] = block.initial_jvp(d_state)
    for s in range(1, T):
        # news one period further away: the shocked date's inputs enter as x_{t+1} only once
        d_state, d_pol = block.backward_jvp(d_state, None, unit if s == 1 else None)
        curly_y[s] = block.aggregate_jvp(d_pol)[rows]
        curly_d[:, s] = block.forward_jvp(d_pol)
        if initial:
            curly_r[:, s] = block.initial_jvp(d_state)
    return curly_y, curly_d, curly_r


def _expectation_vectors(block, n, rows):
    """curlyE (n_out, n, N): E_0 = o, E_t = Lambda_ss E_{t-1}."""
    o = block.output_vectors()[:, rows]
    out = np.empty((o.shape[1], max(n, 0), o.shape[0]))
    E = o
    for t in range(n):
        if t > 0:
            E = block.expectation_step(E)
        out[:, t] = E.T
    return out


def _fake_news_matrix(curly_y, curly_d, curly_e):
    """F (n_out, k, T, T) from the backward pass and the expectation vectors."""
    T, n_out, k = curly_y.shape
    N = curly_d.shape[0]
    F = np.empty((n_out, k, T, T))
    F[:, :, 0, :] = curly_y.transpose(1, 2, 0)
    if T > 1:
        d = curly_d.reshape(N, T * k)
        step = -(-n_out // 8)  # outputs in chunks: temporaries of at most F / 8
        for lo in range(0, n_out, step):
            hi = min(lo + step, n_out)
            prod = curly_e[lo:hi].reshape((hi - lo) * (T - 1), N) @ d
            F[lo:hi, :, 1:, :] = prod.reshape(hi - lo, T - 1, T, k).transpose(0, 3, 1, 2)
    return F


def _check(block, T, names, outs) -> None:
    problems = []
    if not isinstance(block, HetBlock):
        problems.append(Violation("block", "must offer the HetBlock protocol",
                                  type(block).__name__))
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        problems.append(Violation("T", "must be an integer >= 1", T))
    unknown = [n for n in names if n not in getattr(block, "inputs", ())]
    if unknown:
        problems.append(Violation("inputs", f"must be among {list(getattr(block, 'inputs', ()))}",
                                  unknown))
    if len(set(names)) != len(names) or not names:
        problems.append(Violation("inputs", "must be distinct and not empty", list(names)))
    unknown = [n for n in outs if n not in getattr(block, "outputs", ())]
    if unknown:
        problems.append(Violation("outputs", f"must be among {list(getattr(block, 'outputs', ()))}",
                                  unknown))
    if len(set(outs)) != len(outs) or not outs:
        problems.append(Violation("outputs", "must be distinct and not empty", list(outs)))
    if problems:
        raise InvalidParamsError("fake_news_jacobian", problems)
