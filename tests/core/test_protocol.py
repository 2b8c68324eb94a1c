"""The model protocol: registry, Record semantics, errors."""

import dataclasses

import numpy as np
import pytest

from hetspace.core import (
    InvalidConfigError,
    InvalidParamsError,
    ModelSpec,
    Solution,
    get_model,
    list_models,
    register_model,
)
from hetspace.core.armington import Params
from hetspace.core.errors import SolverConvergenceError
from hetspace.core.protocol import solution_arrays

TAU = [[1.0, 2.0], [2.0, 1.0]]


def test_registry_lists_and_loads_armington():
    assert "armington" in list_models()
    spec = get_model("armington")
    assert isinstance(spec, ModelSpec) and spec.Params is Params


def test_unknown_model_names_known_ones():
    with pytest.raises(InvalidConfigError, match="unknown model 'nope'") as info:
        get_model("nope")
    assert "armington" in str(info.value)


def test_register_user_model():
    spec = ModelSpec(name="user_toy", description="toy", Params=Params, Numerics=Params,
                     solve=lambda p, numerics=None, warm_start=None: None)
    register_model(spec)
    assert get_model("user_toy") is spec and "user_toy" in list_models()


def test_record_fingerprint_equality_and_roundtrip():
    p1 = Params(sigma=2.0, tau=TAU, A=[1.0, 2.0], L=[1.0, 1.0])
    p2 = Params(sigma=2, tau=np.array(TAU), A=(1, 2), L=[1, 1])
    p3 = p1.with_(A=[1.0, 2.0000001])
    assert p1 == p2 and hash(p1) == hash(p2) and p1.fingerprint() == p2.fingerprint()
    assert p1 != p3 and p1.fingerprint() != p3.fingerprint()
    again = Params.from_dict(p1.to_dict())
    assert again == p1
    with pytest.raises(InvalidParamsError, match="rho: is not a field of Params"):
        Params.from_dict({**p1.to_dict(), "rho": 1})


def test_params_are_immutable():
    p = Params(sigma=2.0, tau=TAU, A=[1.0, 2.0], L=[1.0, 1.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.sigma = 3.0
    with pytest.raises(ValueError, match="read-only"):
        p.A[0] = 5.0


def test_solution_protocol_and_arrays():
    sol = get_model("armington").solve(Params(sigma=2.0, tau=TAU, A=[1.0, 2.0], L=[1.0, 1.0]))
    assert isinstance(sol, Solution)
    arrays = solution_arrays(sol)
    assert {"w", "lam", "P", "X"} <= set(arrays)
    np.testing.assert_array_equal(arrays["w"], sol.w)


def test_convergence_error_message_carries_diagnostics():
    err = SolverConvergenceError("market did not clear", residuals={"gap": 1.5e-3}, n_iter=7)
    assert "gap=0.0015" in str(err) and "after 7 iterations" in str(err)
    assert err.residuals == {"gap": 1.5e-3} and err.n_iter == 7


def test_with_trusted_changes_fields_like_with_but_skips_validation():
    from hetspace.core.incomplete_markets import Numerics

    base = Numerics(n_a=50)
    trusted = base.with_trusted(tol_policy=1e-8, tol_value=1e-9)
    assert trusted == base.with_(tol_policy=1e-8, tol_value=1e-9)
    assert (trusted.tol_policy, trusted.tol_value, trusted.n_a) == (1e-8, 1e-9, 50)
    assert base.tol_policy == Numerics().tol_policy  # the original is unchanged
    assert base.with_trusted(n_a=3).n_a == 3  # no validation: for solver-internal copies
    with pytest.raises(TypeError, match="not_a_field"):
        base.with_trusted(not_a_field=1)
