"""Outputs derived through an identity in the fake-news algorithm
(``transitions.OutputIdentity``, ``HouseholdBlock.output_identities``).

With one location the household block derives C, L and H from A (the aggregate
budget; L and H stay put), so its Jacobian costs A's expectation vectors and matrix
product alone. Against the general path (the same block with the identities hidden,
every output by its own expectation vectors) for every input (w, P, T, r):

- A is the same computation (a product with fewer rows): 1e-14 of its largest entry;
- C off the diagonal: rounding of the two routes, summed over the recursion
  J[t, s] = F[t, s] + J[t - 1, s - 1] (measured up to 6e-14 of the largest entry at
  n_a = 500, T = 300; 1e-15 here): 1e-12;
- C on the diagonal: the general path's date-0 response of c at the nodes where
  savings sit on a bound comes from central differences of one EGM step
  (``transition.EPS_INPUT`` = 1e-6), whose rounding is about 2^-52 / 1e-6 ~ 2e-10 of
  c; the identity takes it from the budget exactly (measured up to 8e-12): 1e-10;
- L and H: exactly zero by the identity, rounding (1e-16) by the general path.

An identity with a wrong sign or a missing lag term misses by O(1).
"""

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError
from hetspace.core.incomplete_markets import Numerics, Params, examples, solve
from hetspace.core.incomplete_markets.transition import HouseholdBlock
from hetspace.core.transitions import OutputIdentity, fake_news_chunks, fake_news_jacobian

T = 30
TIGHT = dict(tol_policy=1e-12, tol_value=1e-12, tol_dist=1e-13)


class _Hidden:
    """The block without output identities (the general path) or with others."""

    def __init__(self, block, identities=None):
        self._block, self._identities = block, identities
        self.inputs, self.outputs = block.inputs, block.outputs

    def __getattr__(self, name):
        if name == "output_identities":
            if self._identities is None:
                raise AttributeError(name)
            return lambda: self._identities
        return getattr(self._block, name)


def _aiyagari():
    params, num = examples.aiyagari_1994(n_a=40, risk_aversion=2.0)
    return HouseholdBlock(solve(params, num))


def _partial():
    """Every direct term at work: P != 1, T != 0, a borrowing limit below zero, deaths."""
    params = Params(gamma=1.5, beta=0.95, omega=0.98, e_grid=(0.6, 1.0, 1.4),
                    Pi=((0.8, 0.15, 0.05), (0.1, 0.8, 0.1), (0.05, 0.15, 0.8)), a_low=-0.5,
                    closure="partial", r=0.02, w=(1.1,), P=(1.2,), T=(0.05,))
    return HouseholdBlock(solve(params, Numerics(n_a=40, a_max=30.0, **TIGHT)))


@pytest.fixture(scope="module", params=[_aiyagari, _partial], ids=["aiyagari", "partial"])
def pair(request):
    block = request.param()
    return block, fake_news_jacobian(block, T), fake_news_jacobian(_Hidden(block), T)


def test_one_location_offers_identities(pair):
    block, _, _ = pair
    assert {i.output: i.base for i in block.output_identities()} == {
        "C_0": "A_0", "L_0": "A_0", "H_0": "A_0"}


def test_derived_consumption_equals_general_path(pair):
    block, fast, ref = pair
    off = ~np.eye(T, dtype=bool)
    for name in block.inputs:
        a, a_ref = fast.get("A_0", name), ref.get("A_0", name)
        np.testing.assert_allclose(a, a_ref, rtol=0, atol=1e-14 * np.abs(a_ref).max())
        c, c_ref = fast.get("C_0", name), ref.get("C_0", name)
        scale = np.abs(c_ref).max()
        assert scale > 1e-3, name  # not trivially zero
        np.testing.assert_allclose(c[off], c_ref[off], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(np.diag(c), np.diag(c_ref), rtol=0, atol=1e-10 * scale)


def test_population_and_labour_are_zero(pair):
    block, fast, ref = pair
    for out in ("L_0", "H_0"):
        for name in block.inputs:
            assert not fast.get(out, name).any()
            scale = np.abs(ref.get("A_0", name)).max()
            np.testing.assert_allclose(ref.get(out, name), 0.0, rtol=0, atol=1e-14 * scale)


def test_consumption_alone_and_chunks(pair):
    block, fast, _ = pair
    # other inputs alongside: the same numbers up to the product's rounding
    alone = fake_news_jacobian(block, T, ["r", "P_0"], ["C_0"])
    expected = fast.get("C_0", "P_0")
    np.testing.assert_allclose(alone.get("C_0", "P_0"), expected, rtol=0,
                               atol=1e-14 * np.abs(expected).max())
    whole = fake_news_jacobian(block, T, ["r"], ["H_0", "C_0", "A_0"])
    parts = list(fake_news_chunks(block, T, ["r"], ["H_0", "C_0", "A_0"],
                                  max_bytes=T * T * 8))
    assert [(lo, hi) for lo, hi, _ in parts] == [(0, 1), (1, 2), (2, 3)]
    for lo, _, part in parts:
        np.testing.assert_array_equal(part, whole.J[lo:lo + 1])


def test_several_locations_offer_none():
    params = Params(gamma=2.0, beta=0.95, e_grid=(0.7, 1.3), Pi=((0.9, 0.1), (0.1, 0.9)), a_low=0.0,
                    chi=np.array([[1.0, 0.3], [0.25, 1.0]]), theta=2.0, closure="partial",
                    r=0.01, w=(1.0, 0.9), P=(1.0, 1.1), T=(0.0, 0.0))
    block = HouseholdBlock(solve(params, Numerics(n_a=20, a_max=20.0)))
    assert block.output_identities() == ()


def test_identity_is_applied_as_declared():
    """The model-agnostic part: d Y_t = now d B_t + lag d B_{t-1} + direct dx_t."""
    block = _aiyagari()
    ident = OutputIdentity(output="C_0", base="A_0", now=0.7, lag=-0.3,
                           direct={"r": 2.0, "P_0": -1.5})
    jac = fake_news_jacobian(_Hidden(block, (ident,)), T, ["r", "w_0", "P_0"], ["C_0"])
    ref = fake_news_jacobian(_Hidden(block), T, ["r", "w_0", "P_0"], ["A_0"])
    for name, d in (("r", 2.0), ("w_0", 0.0), ("P_0", -1.5)):
        base = ref.get("A_0", name)
        expected = 0.7 * base + d * np.eye(T)
        expected[1:] -= 0.3 * base[:-1]
        np.testing.assert_allclose(jac.get("C_0", name), expected, rtol=0,
                                   atol=1e-14 * np.abs(expected).max())


def test_identity_naming_unknown_output_is_refused():
    block = _aiyagari()
    bad = OutputIdentity(output="C_0", base="K_0", now=1.0)
    with pytest.raises(InvalidParamsError, match="output_identities"):
        fake_news_jacobian(_Hidden(block, (bad,)), T, ["r"], ["C_0"])
