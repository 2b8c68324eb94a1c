"""A heterogeneous block seen through linear maps of its inputs and outputs.

General-equilibrium closures rarely move a block's inputs one at a time: an
unknown (a wage, a population) moves several inputs at once through closed forms
(a price index, a transfer), and the targets are linear combinations of the
outputs (a goods market, a bond market). Around the steady state these are
matrices, inputs x = x_ss + B u (B: n_in x k) and targets z = C Y (C: m x n_out),
and the Jacobian of z in u is C J B. Asking the fake-news algorithm for it
directly costs k backward directions and m expectation vectors instead of n_in and
n_out, and never forms J itself (with J locations n_in and n_out grow like J, and
J's T^2 n_out n_in floats are what does not fit at J = 48).

``ProjectedBlock(block, B, C)`` is itself a :class:`HetBlock` (its nonlinear
methods move the inputs along B from the steady state and return C Y), so
``fake_news_jacobian(ProjectedBlock(...), T)`` is C J B.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidParamsError, Violation
from .block import HetBlock

__all__ = ["ProjectedBlock"]


class ProjectedBlock:
    """``block`` with inputs u (x = x_ss + B u) and outputs z = C Y (module docstring);
    ``inputs`` and ``outputs`` name the columns of B and the rows of C."""

    def __init__(self, block: HetBlock, B: np.ndarray, C: np.ndarray,
                 inputs: Sequence[str], outputs: Sequence[str]):
        B, C = np.asarray(B, dtype=float), np.asarray(C, dtype=float)
        problems = []
        n_in, n_out = len(block.inputs), len(block.outputs)
        if B.shape != (n_in, len(inputs)):
            problems.append(Violation("B", f"must have shape ({n_in}, {len(inputs)})", B.shape))
        if C.shape != (len(outputs), n_out):
            problems.append(Violation("C", f"must have shape ({len(outputs)}, {n_out})",
                                      C.shape))
        if problems:
            raise InvalidParamsError("ProjectedBlock", problems)
        self.block, self.B, self.C = block, B, C
        self.inputs, self.outputs = tuple(inputs), tuple(outputs)
        self._x_ss = block.steady_inputs()
        # compiled fake-news pieces of the block, if it has them (``fake_news``)
        if callable(getattr(block, "fake_news_backward", None)):
            self.fake_news_backward = self._fake_news_backward
        if callable(getattr(block, "expectation_vectors", None)):
            self.expectation_vectors = block.expectation_vectors

    # ---- nonlinear: along B from the steady state ------------------------------------
    def steady_inputs(self) -> np.ndarray:
        return np.zeros(len(self.inputs))

    def steady_backward(self):
        return self.block.steady_backward()

    def steady_distribution(self) -> np.ndarray:
        return self.block.steady_distribution()

    def backward(self, state_next, x_now, x_next):
        return self.block.backward(state_next, self._x_ss + self.B @ x_now,
                                   self._x_ss + self.B @ x_next)

    def forward(self, dist, policy):
        return self.block.forward(dist, policy)

    def aggregate(self, dist, policy):
        return self.C @ self.block.aggregate(dist, policy)

    # ---- linearised -----------------------------------------------------------------
    def backward_jvp(self, d_state_next, dx_now, dx_next):
        return self.block.backward_jvp(d_state_next, None if dx_now is None else self.B @ dx_now,
                                       None if dx_next is None else self.B @ dx_next)

    def forward_jvp(self, d_policy):
        return self.block.forward_jvp(d_policy)

    def aggregate_jvp(self, d_policy):
        return self.C @ self.block.aggregate_jvp(d_policy)

    def expectation_step(self, E):
        return self.block.expectation_step(E)

    def output_vectors(self):
        return self.block.output_vectors() @ self.C.T

    def _fake_news_backward(self, T, dx, rows):
        curly_y, curly_d = self.block.fake_news_backward(T, self.B @ dx,
                                                         list(range(len(self.block.outputs))))
        return np.einsum("ro,tok->trk", self.C[rows], curly_y), curly_d
