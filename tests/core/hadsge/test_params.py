"""hadsge parameters and numerics: every field is validated, all violations at once."""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.hadsge import Numerics, Params, example_params, solve_household


def test_example_is_valid_and_fields_are_read_only_arrays():
    p = example_params()
    assert p.n_markets == 3 and p.tau.dtype == np.float64 and not p.tau.flags.writeable
    np.testing.assert_allclose(p.cohort_weights.sum(), 1.0)


def test_every_scalar_violation_is_listed_at_once():
    with pytest.raises(InvalidParamsError) as err:
        example_params(n_ages=1, beta=1.0, alpha=1.0, alpha0=0.5, sigma_nu2=-0.1,
                       nu_mean_one="yes", theta0=1.5, wealth0=0.0, varsigma_R=-1.0)
    text = str(err.value)
    for field in ("n_ages", "beta", "alpha", "alpha0", "sigma_nu2", "nu_mean_one", "theta0",
                  "wealth0", "varsigma_R"):
        assert f"  - {field}" in text, field
    assert len(err.value.violations) == 9


@pytest.mark.parametrize("field, value, match", [
    ("w", [1.1, -1.0, 1.0], r"w\[1\]: must be > 0"),
    ("w", [], "at least one market"),
    ("r", [1.0, 1.0], r"r: must have shape \(3,\)"),
    ("tau", np.zeros((3, 3)), r"tau\[0, 0\]: must be > 0"),
    ("psi", np.ones((3, 2)), r"psi: must have shape \(3, 3\)"),
    ("chi", np.full((3, 3), np.inf), r"chi\[0, 0\]: must be finite"),
    ("lam", [1.0, 0.0, 1.0], r"lam\[1\]: must be > 0"),
    ("lam0", [1.0], r"lam0: must have shape"),
    ("chi0", [1.0, -1.0, 1.0], r"chi0\[1\]: must be > 0"),
    ("cohort_mass", np.zeros(10), "cohort_mass: must have a positive entry"),
    ("cohort_mass", np.ones(3), r"cohort_mass: must have shape \(10,\)"),
    ("n_ages", 2.5, "n_ages: must be an integer"),
])
def test_array_and_shape_violations_name_the_field(field, value, match):
    with pytest.raises(InvalidParamsError, match=match):
        example_params(**{field: value})


def test_numerics_are_validated():
    with pytest.raises(InvalidParamsError) as err:
        Numerics(n_quad=0, share_tol=1.0, max_share_iter=1, share_rule="newton", n_sim=0,
                 seed=-1)
    assert len(err.value.violations) == 6
    assert "share_rule: must be one of ['exact', 'lemma1']" in str(err.value)


def test_changes_go_through_with_and_reject_unknown_fields():
    p = example_params()
    assert p.with_(alpha=10.0).alpha == 10.0
    with pytest.raises(InvalidParamsError, match="is not a field of Params"):
        p.with_(kappa=1.0)
    with pytest.raises(InvalidParamsError, match="alpha: must be > 1"):
        p.with_(alpha=0.9)


def test_returns_by_age_are_checked():
    p = example_params()
    with pytest.raises(InvalidParamsError, match=r"w_age: must have shape \(11, 3\)"):
        solve_household(p, w_age=np.ones((10, 3)))
    with pytest.raises(InvalidParamsError, match="r_age: must be finite and > 0"):
        solve_household(p, r_age=np.zeros((11, 3)))


def test_entrant_defaults_follow_workers():
    p = example_params()
    assert p.alpha_entrant == p.alpha
    np.testing.assert_array_equal(p.lam_entrant, p.lam)
    np.testing.assert_array_equal(p.chi_entrant, np.ones(3))
    assert Params.from_dict(p.to_dict()) == p


def test_a_scalar_friction_is_the_symmetric_matrix_with_ones_on_the_diagonal():
    """A sweep axis or estimated parameter sets tau, psi or chi by one number."""
    p = example_params().with_(tau=0.8, psi=0.9, chi=np.float64(0.95))
    off = ~np.eye(3, dtype=bool)
    for field, value in (("tau", 0.8), ("psi", 0.9), ("chi", 0.95)):
        m = getattr(p, field)
        assert m.shape == (3, 3) and not m.flags.writeable
        np.testing.assert_array_equal(m[off], value)
        np.testing.assert_array_equal(np.diag(m), 1.0)
    assert p == example_params(tau=np.where(off, 0.8, 1.0), psi=np.where(off, 0.9, 1.0),
                               chi=np.where(off, 0.95, 1.0))
    with pytest.raises(InvalidParamsError, match=r"tau\[0, 1\]: must be > 0"):
        example_params(tau=-0.5)
    with pytest.raises(InvalidParamsError, match="tau: must be 2-dimensional"):
        example_params(tau=True)
