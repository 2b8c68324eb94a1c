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
(n_out (T-1)) x N by N x (T n_in) (float64 gemm; chunks of outputs when it would
exceed CHUNK_BYTES), then the recursion in one compiled pass. A block may do steps
1 and 2 in compiled code (``fake_news_backward(T, unit, rows)``,
``expectation_vectors(o, n)``; the workhorse's ``HouseholdBlock`` does), else they
run one horizon at a time through its jvps (the reference path; the planner's
block). A block may also name outputs that are exact linear functions of another
output and the inputs (``output_identities()``, ``block.OutputIdentity``: an
aggregate budget, say); those outputs then cost no expectation vectors and no share
of the product: their Jacobians follow from the base's (not with ``initial``, where
the date-0 distribution moves).

Memory: curlyD (T N n_in floats), curlyE for at most EXPECTATION_BYTES of outputs
at a time, and the Jacobian; ``fake_news_chunks`` hands the Jacobian out
by chunks of outputs so that it need never exist whole (the 48-location GE
Jacobian, ``transition_spatial``). With J locations, n_in, n_out and N all grow
like J, so memory grows like J^2 T n_a S + J^2 T^2 and the product like
J^3 T^2 n_a S.

Measured (``benchmarks/transitions.py``): Aiyagari, 7 income states, 500 asset
points, T = 300, Jacobians of A and C in r and w: C follows from A by the household
block's budget identity, so the product is A's alone (half of sequence-jacobian's
build_F flops), about 0.6 of our time and 0.15 of sequence-jacobian's; see that
script's docstring for the ratio.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from . import kernels
from .block import HetBlock, _index

__all__ = ["SequenceJacobian", "fake_news_chunks", "fake_news_jacobian"]

CHUNK_BYTES = 256 * 2**20  # fake-news product and Jacobian chunk (each) of fake_news_chunks
EXPECTATION_BYTES = 512 * 2**20  # expectation vectors computed at once

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
    names, outs = _names(block, inputs, outputs)
    F = np.empty((len(outs), len(names), T, T))
    for _ in _chunks(block, T, names, outs, initial, F):
        pass
    return SequenceJacobian(names, outs, F)


def fake_news_chunks(block: HetBlock, T: int, inputs: Sequence[str] | None = None,
                     outputs: Sequence[str] | None = None, *, initial: bool = False,
                     max_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, int, np.ndarray]]:
    """``fake_news_jacobian`` output by output: yields (lo, hi, J[lo:hi]) with J[lo:hi]
    (hi - lo, n_in, T, T) of at most about ``max_bytes``, a fresh array each time, so
    that a caller can place the Jacobian where it is needed (e.g. into a larger GE
    Jacobian) without the whole of it ever existing on its own. Outputs derived by a
    block's ``output_identities`` need their bases' Jacobians whole first."""
    names, outs = _names(block, inputs, outputs)
    yield from _chunks(block, T, names, outs, initial, None, max_bytes)


def _names(block, inputs, outputs):
    names = tuple(block.inputs) if inputs is None else tuple(inputs)
    outs = tuple(block.outputs) if outputs is None else tuple(outputs)
    return names, outs


def _chunks(block, T, names, outs, initial, out, max_bytes=CHUNK_BYTES):
    """The Jacobian by chunks of outputs (``_news_chunks``); outputs the block derives
    from others by an ``OutputIdentity`` (not with ``initial``: the date-0
    distribution moves) come from their base's Jacobian, computed whole first. Writes
    into out[lo:hi] if ``out`` is given, else into fresh arrays; yields (lo, hi, that)."""
    _check(block, T, names, outs)
    if initial and not callable(getattr(block, "initial_jvp", None)):
        raise InvalidParamsError("fake_news_jacobian", [Violation(
            "initial", "needs a block with initial_jvp (a date-0 distribution chosen with "
            "foresight)", type(block).__name__)])
    derived = {} if initial else _identities(block, names, outs)
    if not derived:
        yield from _news_chunks(block, T, names, outs, initial, out, max_bytes)
        return
    base_names = tuple(dict.fromkeys([o for o in outs if o not in derived]
                                     + [ident.base for ident in derived.values()]))
    k = len(names)
    base = np.empty((len(base_names), k, T, T))
    for _ in _news_chunks(block, T, names, base_names, False, base, max_bytes):
        pass
    step = max(1, max_bytes // (8 * T * T * k))
    for lo in range(0, len(outs), step):
        hi = min(lo + step, len(outs))
        J = np.empty((hi - lo, k, T, T)) if out is None else out[lo:hi]
        for o in range(lo, hi):
            ident = derived.get(outs[o])
            if ident is None:
                J[o - lo] = base[base_names.index(outs[o])]
            else:
                _derive(ident, base[base_names.index(ident.base)], names, J[o - lo])
        yield lo, hi, J


def _identities(block, names, outs):
    """{output: OutputIdentity} for the requested outputs the block derives from an
    output that is not itself derived; {} if the block offers none."""
    offer = getattr(block, "output_identities", None)
    if not callable(offer):
        return {}
    known = {ident.output: ident for ident in offer()}
    problems = [Violation(f"output_identities[{ident.output!r}]", "must name the block's "
                          "outputs and inputs", (ident.base, sorted(ident.direct)))
                for ident in known.values()
                if ident.output not in block.outputs or ident.base not in block.outputs
                or not set(ident.direct) <= set(block.inputs)]
    if problems:
        raise InvalidParamsError("fake_news_jacobian", problems)
    return {o: known[o] for o in outs if o in known and known[o].base not in known}


def _derive(ident, base, names, out):
    """out (k, T, T): the Jacobian of ident.output from its base's (k, T, T) and the
    inputs ``names`` (``block.OutputIdentity``): now J_b[t, s] + lag J_b[t - 1, s] +
    direct[i] [t == s]."""
    np.multiply(base, ident.now, out=out)
    if ident.lag != 0.0:
        out[:, 1:] += ident.lag * base[:, :-1]
    diag = np.arange(out.shape[-1])
    for i, name in enumerate(names):
        out[i, diag, diag] += ident.direct.get(name, 0.0)


def _news_chunks(block, T, names, outs, initial, out, max_bytes):
    """The fake-news steps (module docstring) for chunks of outputs: one backward pass
    for all inputs; expectation vectors for up to EXPECTATION_BYTES of them at once;
    per chunk of outputs one matrix product and the recursion. Writes into out[lo:hi]
    if ``out`` is given, else into fresh arrays; yields (lo, hi, that)."""
    sel = [block.inputs.index(name) for name in names]
    rows = [block.outputs.index(name) for name in outs]
    n_in, k = len(block.inputs), len(sel)
    unit = np.zeros((n_in, k))
    unit[sel, np.arange(k)] = 1.0
    curly_y, curly_d, curly_r = _backward_pass(block, T, unit, rows, initial)
    N = curly_d.shape[0]
    d = curly_d.reshape(N, T * k)
    n_e = T if initial else T - 1
    step_e = max(1, EXPECTATION_BYTES // max(1, 8 * n_e * N))
    step_f = max(1, max_bytes // (8 * T * T * k))
    for lo_e in range(0, len(rows), step_e):
        hi_e = min(lo_e + step_e, len(rows))
        curly_e = _expectation_vectors(block, n_e, rows[lo_e:hi_e])
        for lo in range(lo_e, hi_e, step_f):
            hi = min(lo + step_f, hi_e)
            J = np.empty((hi - lo, k, T, T)) if out is None else out[lo:hi]
            e = curly_e[lo - lo_e:hi - lo_e, :T - 1]
            prod = np.empty((hi - lo, T - 1, T, k))
            if T > 1:
                np.matmul(e.reshape((hi - lo) * (T - 1), N), d,
                          out=prod.reshape((hi - lo) * (T - 1), T * k))
            kernels.jacobian_from_news(np.ascontiguousarray(curly_y[:, lo:hi]), prod, J)
            del prod
            if initial:
                r = curly_r.reshape(N, T * k)
                for o in range(lo, hi):  # J[o, i, t, s] += curlyE[o, t] . curlyR[:, s, i]
                    J[o - lo] += (curly_e[o - lo_e] @ r).reshape(T, T, k).transpose(2, 0, 1)
            yield lo, hi, J


def _backward_pass(block, T, unit, rows, initial=False):
    """curlyY (T, n_out, k) and curlyD (N, T, k): effects at dates 0 and 1 of the news
    at date 0 of shocks s = 0..T-1 periods ahead; with ``initial``, curlyR (N, T, k):
    their effects on the date-0 distribution (None otherwise). A block's compiled
    ``fake_news_backward(T, unit, rows)`` does the same in one call (not with
    ``initial``)."""
    fused = getattr(block, "fake_news_backward", None)
    if callable(fused) and not initial:
        curly_y, curly_d = fused(T, unit, rows)
        return curly_y, curly_d, None
    return _backward_loop(block, T, unit, rows, initial)


def _backward_loop(block, T, unit, rows, initial=False):
    """``_backward_pass`` from the block's jvps, one horizon at a time."""
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
    """curlyE (n_out, n, N): E_0 = o, E_t = Lambda_ss E_{t-1}; by the block's own
    ``expectation_vectors(o, n)`` (compiled, say) if it has one."""
    o = block.output_vectors()[:, rows]
    compiled = getattr(block, "expectation_vectors", None)
    if callable(compiled):
        return compiled(o, max(n, 0))
    out = np.empty((o.shape[1], max(n, 0), o.shape[0]))
    E = o
    for t in range(n):
        if t > 0:
            E = block.expectation_step(E)
        out[:, t] = E.T
    return out


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
