"""The household block's compiled fake-news pieces (its fused backward pass
``HouseholdBlock.fake_news_backward`` and the compiled expectation vectors over
``expectation_vectors``) against the reference path of ``core.transitions.fake_news``:
the block seen through the HetBlock protocol only, one linearised step in Python a
horizon (``backward_jvp``, ``aggregate_jvp``, ``forward_jvp``, ``expectation_step``).
Both run the same linear maps, with sums in other orders (the lottery before or
after Pi), so they agree to rounding: 1e-12 of the largest entry (measured: 3e-16
at J = 1). Dropping the values' channel of migration (dv) from the fused pass fails
the J = 3 cases (checked by hand).
"""

import numpy as np
import pytest

from hetspace.core.incomplete_markets import Numerics, Params, examples, solve
from hetspace.core.incomplete_markets.transition import HouseholdBlock
from hetspace.core.transitions import ProjectedBlock, fake_news_chunks, fake_news_jacobian

T = 25


class _Protocol:
    """A block through the HetBlock protocol only (no compiled pieces), every output
    by its own expectation vectors (no ``output_identities``)."""

    hidden = ("fake_news_backward", "expectation_vectors", "output_identities")

    def __init__(self, block):
        self._block = block
        self.inputs, self.outputs = block.inputs, block.outputs

    def __getattr__(self, name):
        if name in self.hidden:
            raise AttributeError(name)
        return getattr(self._block, name)


class _Compiled(_Protocol):
    """The block's compiled pieces, every output by its own expectation vectors."""

    hidden = ("output_identities",)


def _three():
    chi = np.array([[1.0, 0.3, 0.2], [0.25, 1.0, 0.3], [0.2, 0.35, 1.0]])
    params = Params(gamma=2.0, beta=0.95, omega=0.99, e_grid=(0.7, 1.3),
                    Pi=((0.9, 0.1), (0.1, 0.9)), a_low=-0.5, chi=chi, theta=2.0,
                    closure="partial", r=0.01, w=(1.0, 0.9, 1.05), P=(1.0, 1.1, 0.95),
                    T=(0.05, -0.02, 0.0))
    return HouseholdBlock(solve(params, Numerics(n_a=30, a_max=20.0, tol_policy=1e-12,
                                                 tol_value=1e-12, tol_dist=1e-13)))


def _aiyagari():
    params, num = examples.aiyagari_1994(n_a=40, risk_aversion=2.0)
    return HouseholdBlock(solve(params, num))


@pytest.fixture(scope="module", params=[_aiyagari, _three], ids=["J1", "J3"])
def block(request):
    return request.param()


def _close(actual, expected):
    scale = np.abs(expected).max()
    assert scale > 0.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12 * scale)


def test_compiled_jacobian_equals_reference_path(block):
    assert callable(block.fake_news_backward)
    fast = fake_news_jacobian(_Compiled(block), T)
    ref = fake_news_jacobian(_Protocol(block), T)
    _close(fast.J, ref.J)
    assert np.abs(fast.get("A_0", "r")).max() > 1e-3  # not trivially zero


def test_compiled_projected_jacobian_equals_reference_path(block):
    rng = np.random.default_rng(3)
    B = rng.normal(size=(len(block.inputs), 3))
    C = rng.normal(size=(2, len(block.outputs)))
    names = dict(inputs=["u0", "u1", "u2"], outputs=["z0", "z1"])
    fast = ProjectedBlock(block, B, C, **names)
    assert callable(fast.fake_news_backward)
    ref = ProjectedBlock(_Protocol(block), B, C, **names)
    _close(fake_news_jacobian(fast, T).J, fake_news_jacobian(ref, T).J)


def test_chunks_equal_the_whole_jacobian(block):
    whole = fake_news_jacobian(block, T, ["r", "w_0"])
    seen = []
    # one output's block is 2 * T^2 * 8 bytes: chunks of two outputs
    for lo, hi, part in fake_news_chunks(block, T, ["r", "w_0"], max_bytes=4 * T * T * 8):
        assert part.shape == (hi - lo, 2, T, T) and hi - lo <= 2
        np.testing.assert_array_equal(part, whole.J[lo:hi])
        seen.extend(range(lo, hi))
    assert seen == list(range(len(block.outputs)))


@pytest.mark.parametrize("horizon", [1, 2])
def test_short_horizons_equal_reference_path(block, horizon):
    _close(fake_news_jacobian(_Compiled(block), horizon).J,
           fake_news_jacobian(_Protocol(block), horizon).J)
