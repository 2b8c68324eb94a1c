"""Dynamic spatial model (Part A): levels vs dynamic hat algebra vs hat of dots, steady state.

Tolerances. Every solver here stops at 1e-11: the labour path (max |log L_new - log L|), the
Bellman fixed points (relative), and each period's goods market (1e-12 of gross trade). The
errors propagate through at most T = 60 periods of values discounted by beta <= 0.96 and of
labour flows that are contractions, so paths agree to a few 1e-11 in practice (measured:
up to 2e-11); we assert CROSS = 1e-8, which still fails for any timing or algebra slip
(those produce errors of 1e-3 or more; see test_timing_matters).
"""

from pathlib import Path

import numpy as np
import pytest

from hetspace.core import InvalidParamsError, SolverConvergenceError
from hetspace.core.config import dump_model_config, load_model_config
from hetspace.core.dynamic_spatial import (
    MODEL,
    PATH_MOMENTS,
    Numerics,
    Observables,
    Params,
    solve,
    solve_counterfactual,
    solve_dynamic_hat,
    solve_steady_state,
)
from hetspace.core.dynamic_spatial.result import half_life
from hetspace.core.errors import InvalidConfigError
from hetspace.core.protocol import get_model, solution_arrays

CROSS = 1e-8
T = 60


def _ramp(T1, n, region, size, start, length):
    """Productivity factor path: region's A moves by ``size`` between start and start+length."""
    t = np.arange(T1)
    frac = np.clip((t - start) / length, 0.0, 1.0)
    out = np.ones((T1, n))
    out[:, region] = size**frac
    return out


def _trade_ramp(T1, n, i, k, size, start, length):
    """(T1, N, N) factor: iceberg costs between i and k (both ways) move by ``size``."""
    out = np.ones((T1, n, n))
    f = size ** np.clip((np.arange(T1) - start) / length, 0.0, 1.0)
    out[:, i, k] = out[:, k, i] = f
    return out


def _economy(seed, n, beta, nu):
    """Random economy starting in the steady state of its period-0 fundamentals; along the
    path region 0's productivity falls and trade costs between regions 1 and 2 fall."""
    rng = np.random.default_rng(seed)
    tau = 1.0 + rng.uniform(0.3, 1.5, (n, n))  # >= 1.3: cost cuts below keep tau >= 1
    np.fill_diagonal(tau, 1.0)
    m = nu * rng.uniform(1.5, 3.0, (n, n))  # stay shares around 0.8-0.9
    np.fill_diagonal(m, 0.0)
    A0 = rng.uniform(0.5, 1.5, n)
    A_path = A0[None, :] * _ramp(T + 1, n, 0, 0.7, 1, 5)
    tau_path = tau * _trade_ramp(T + 1, n, 1, 2, 0.8, 2, 6)
    p = Params(sigma=rng.uniform(2.0, 5.0), beta=beta, nu=nu, A_path=A_path, tau=tau, m=m,
               L0=rng.uniform(0.5, 1.5, n), tau_path=tau_path)
    ss = solve_steady_state(p, A=A0, tau=tau)
    return p.with_(L0=ss.L)


CASES = [(1, 3, 0.9, 0.5), (2, 4, 0.96, 1.0), (3, 5, 0.93, 2.0)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"N{c[1]}-beta{c[2]}-nu{c[3]}")
def world(request):
    seed, n, beta, nu = request.param
    p = _economy(seed, n, beta, nu)
    # counterfactual: an extra, later shock to the last region and lower trade costs between
    # regions 0 and the last (A'_0 = A_0, tau'_0 = tau_0)
    p_cf = p.with_(A_path=p.A_path * _ramp(T + 1, n, n - 1, 1.3, 3, 8),
                   tau_path=p.tau_path * _trade_ramp(T + 1, n, 0, n - 1, 0.8, 4, 6))
    lev = solve(p)
    lev_cf = solve(p_cf, warm_start=lev)
    hat = solve_dynamic_hat(lev.observables(), lev.A_dot, tau_dot=lev.tau_dot)
    return {"p": p, "lev": lev, "lev_cf": lev_cf, "hat": hat, "A_hat": lev_cf.A_dot / lev.A_dot,
            "tau_hat": lev_cf.tau_dot / lev.tau_dot}


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=CROSS, atol=CROSS)


def test_dynamic_hat_equals_levels(world):
    lev, hat = world["lev"], world["hat"]
    assert lev.moments()["pop_change_long_run"] < -0.01  # the shock really moves people
    _close(hat.L, lev.L)
    _close(hat.u_dot, lev.u_dot)
    _close(hat.w_dot, lev.w_dot)
    _close(hat.P_dot, lev.P_dot)
    _close(hat.pi, lev.pi)
    _close(hat.X, lev.X)  # X_0 is data, X_t follows from the dots alone
    _close(hat.V_rel, lev.V - lev.V[0])


def test_lecture_equations_hold_in_time_changes(world):
    """The lecture's dot equations, recomputed here from the levels path with plain NumPy."""
    lev, p = world["lev"], world["p"]
    g = (lev.u_dot[1:] ** (p.beta / p.nu))  # u-dot_{t+2}, t = 0..T-2
    num = lev.pi[:-2] * g[:, None, :]
    _close(lev.pi[1:-1], num / num.sum(axis=2, keepdims=True))
    real_dot = lev.w_dot / lev.P_dot
    rhs = real_dot[:-1] * num.sum(axis=2) ** p.nu
    _close(lev.u_dot[:-1], rhs)
    _close(lev.u_dot[-1], real_dot[-1] * np.ones_like(real_dot[-1]))  # u-dot_{T+1} = 1
    _close(lev.L[1:], np.einsum("tji,tj->ti", lev.pi[:-1], lev.L[:-1]))
    cost_dot = lev.tau_dot * (lev.w_dot / lev.A_dot)[:, :, None]  # trade costs change too
    assert np.max(np.abs(np.log(lev.tau_dot))) > 0.01
    lam_next = lev.lam[:-1] * cost_dot ** (1 - p.sigma)
    _close(lev.lam[1:], lam_next / lam_next.sum(axis=1, keepdims=True))


def test_counterfactual_from_observables_equals_levels(world):
    """Baseline solved by dynamic hat algebra from observables, then hat of dots."""
    lev, lev_cf, hat = world["lev"], world["lev_cf"], world["hat"]
    cf = solve_counterfactual(hat, world["A_hat"], tau_hat=world["tau_hat"])
    _close(cf.L, lev_cf.L)
    _close(cf.w_hat, lev_cf.w_dot / lev.w_dot)
    _close(cf.P_hat, lev_cf.P_dot / lev.P_dot)
    _close(cf.u_hat, lev_cf.u_dot / lev.u_dot)
    _close(cf.L_hat, (lev_cf.L[1:] / lev_cf.L[:-1]) / (lev.L[1:] / lev.L[:-1]))
    _close(cf.pi, lev_cf.pi)
    _close(cf.V_diff, lev_cf.V - lev.V)
    assert abs(cf.moments()["pop_change_long_run"]) > 0.01


def test_trade_cost_change_alone(world):
    """Only trade costs change in the counterfactual: hat of dots (from observables) against
    levels; the shocked region is then the one whose population responds most."""
    lev, p = world["lev"], world["p"]
    p_cf = p.with_(tau_path=p.tau_path * _trade_ramp(T + 1, p.n_regions, 0, 1, 1.4, 1, 5))
    lev_cf = solve(p_cf, warm_start=lev)
    cf = solve_counterfactual(world["hat"], tau_hat=lev_cf.tau_dot / lev.tau_dot)
    _close(cf.L, lev_cf.L)
    _close(cf.u_hat, lev_cf.u_dot / lev.u_dot)
    _close(cf.w_hat, lev_cf.w_dot / lev.w_dot)
    _close(cf.X, lev_cf.X)
    k = int(np.argmax(np.abs(np.log(lev_cf.L[-1] / lev.L[-1]))))
    assert cf.moments()["shocked_region"] == k
    assert np.max(np.abs(cf.L / lev.L - 1)) > 1e-3  # the change really moves people


def test_hat_of_dots_from_levels_baseline(world):
    """Baseline given as a path (not a steady state) straight from levels."""
    lev, lev_cf = world["lev"], world["lev_cf"]
    cf = solve_counterfactual(lev, world["A_hat"], tau_hat=world["tau_hat"])
    _close(cf.L, lev_cf.L)
    _close(cf.u_hat, lev_cf.u_dot / lev.u_dot)
    _close(cf.w_hat, lev_cf.w_dot / lev.w_dot)
    _close(cf.welfare_ce, np.exp((1 - lev.beta) * (lev_cf.V[0] - lev.V[0])) - 1)


def test_anticipated_counterfactual_from_its_own_observables(world):
    """Levels under counterfactual fundamentals foreseen since t = -1: dynamic hat algebra
    from that economy's observables (X_0, L_0 equal the baseline's; pi_{-1} differs)."""
    lev, lev_cf = world["lev"], world["lev_cf"]
    obs_cf = lev_cf.observables()
    _close(obs_cf.X0, lev.X[0])
    _close(obs_cf.L0, lev.L[0])
    hat_cf = solve_dynamic_hat(obs_cf, lev_cf.A_dot, tau_dot=lev_cf.tau_dot)
    _close(hat_cf.L, lev_cf.L)
    _close(hat_cf.u_dot, lev_cf.u_dot)


def test_timing_matters(world):
    """With the baseline's pi_{-1}, the dots of an unanticipated change are NOT recovered by
    Proposition-1 dynamic hat algebra: the error is far above CROSS, so the tests above
    discriminate between timing conventions."""
    lev, lev_cf = world["lev"], world["lev_cf"]
    wrong = solve_dynamic_hat(lev.observables(), lev_cf.A_dot, tau_dot=lev_cf.tau_dot)
    assert np.max(np.abs(wrong.L - lev_cf.L)) > 1e-4


def test_steady_state_is_fixed_point_of_time_changes():
    p = _economy(7, 4, 0.95, 1.0)
    ss = solve_steady_state(p)
    real = ss.w / ss.P
    _close(ss.pi.T @ ss.L, ss.L)
    lse = np.log(np.sum(np.exp((p.beta * ss.V[None, :] - p.m) / p.nu), axis=1))
    _close(ss.V, np.log(real) + p.nu * lse)
    hat = solve_dynamic_hat(ss.observables(), T=40)
    for dots in (hat.u_dot, hat.w_dot, hat.P_dot):
        np.testing.assert_allclose(dots, 1.0, rtol=0, atol=1e-10)
    _close(hat.L, np.tile(ss.L, (41, 1)))
    _close(hat.pi, np.broadcast_to(ss.pi, hat.pi.shape))


def test_levels_path_converges_to_terminal_steady_state(world):
    lev, p = world["lev"], world["p"]
    ss = solve_steady_state(p)  # A_T
    np.testing.assert_allclose(lev.L[-1], ss.L, rtol=1e-6)
    np.testing.assert_allclose(lev.V[-1], ss.V, rtol=1e-6)
    np.testing.assert_allclose(lev.L.sum(axis=1), p.L0.sum(), rtol=1e-12)


def test_symmetric_economy_analytic():
    n = 3
    tau = np.full((n, n), 1.5)
    np.fill_diagonal(tau, 1.0)
    m = np.full((n, n), 2.0)
    np.fill_diagonal(m, 0.0)
    p = Params(sigma=3.0, beta=0.9, nu=1.0, A_path=np.ones((5, n)), tau=tau, m=m,
               L0=np.ones(n))
    ss = solve_steady_state(p)
    np.testing.assert_allclose(ss.L, 1.0, rtol=1e-12)
    # symmetric stay share: 1 / (1 + (n - 1) e^{-m / nu})
    np.testing.assert_allclose(np.diag(ss.pi), 1 / (1 + 2 * np.exp(-2.0)), rtol=1e-12)
    # closed form V = log(w/P) / (1 - beta) + log(1 + 2 e^{-2}) / (1 - beta) (nu = 1)
    expect = (np.log(ss.w / ss.P) + np.log(1 + 2 * np.exp(-2.0))) / (1 - 0.9)
    np.testing.assert_allclose(ss.V, expect, rtol=1e-10)
    lev = solve(p)
    np.testing.assert_allclose(lev.L, 1.0, rtol=1e-12)


def test_warm_start_matches_cold():
    p = _economy(4, 3, 0.92, 1.0)
    lev = solve(p)
    p2 = p.with_(A_path=p.A_path * _ramp(T + 1, p.n_regions, 0, 0.98, 2, 4))
    cold = solve(p2)
    warm = MODEL.solve(p2, warm_start=lev)
    _close(warm.L, cold.L)
    _close(warm.V, cold.V)
    assert warm.n_iter < cold.n_iter


def test_moments_and_protocol(world):
    lev = world["lev"]
    mom = lev.moments()
    assert set(mom) == {"shocked_region", "pop_change_long_run", "pop_half_life",
                        "real_wage_change_long_run", "horizon_gap"}
    assert mom["shocked_region"] == 0.0
    assert 0 < mom["pop_half_life"] < T
    assert lev.converged and lev.n_iter >= 1 and lev.residuals["horizon_gap"] < 1e-6
    assert MODEL.name == "dynamic_spatial" and MODEL.Params is Params


def test_half_life_exact():
    # x_t = 1 - 0.5^t: half of the (almost complete) change is reached at t = 1
    x = 1 - 0.5 ** np.arange(60)
    assert half_life(x) == pytest.approx(1.0, abs=1e-12)
    assert np.isnan(half_life(np.ones(5)))


# ---- validation ---------------------------------------------------------------------------

BASE = dict(sigma=3.0, beta=0.9, nu=1.0, A_path=np.ones((4, 2)), tau=[[1, 2], [2, 1]],
            m=[[0, 1], [1, 0]], L0=[1.0, 1.0])


@pytest.mark.parametrize("change, match", [
    ({"beta": 1.0}, r"beta: must be < 1"),
    ({"beta": 0.0}, r"beta: must be > 0"),
    ({"nu": 0.0}, r"nu: must be > 0"),
    ({"nu": -1.0}, r"nu: must be > 0"),
    ({"sigma": 1.0}, r"sigma: must be > 1"),
    ({"L0": [1.0, -1.0]}, r"L0\[1\]: must be > 0"),
    ({"A_path": np.ones((1, 2))}, r"at least two periods"),
    ({"tau": [[1, 0.5], [2, 1]]}, r"tau\[0, 1\]: must be >= 1"),
    ({"tau_path": np.ones((3, 2, 2))}, r"tau_path: must have shape \(4, 2, 2\)"),
    ({"tau_path": np.full((4, 2, 2), 0.5)}, r"tau_path\[0, 0, 0\]: must be >= 1"),
    ({"tau_path": np.full((4, 2, 2), 2.0)}, r"tau_path\[0\] must equal tau"),
])
def test_params_validation(change, match):
    with pytest.raises(InvalidParamsError, match=match):
        Params(**{**BASE, **change})


def test_params_lists_every_violation():
    with pytest.raises(InvalidParamsError, match=r"(?s)3 invalid values.*sigma.*beta.*nu"):
        Params(**{**BASE, "beta": 2.0, "nu": 0.0, "sigma": 0.5})


OBS = dict(X0=[[1.0, 0.2], [0.2, 1.0]], L0=[1.0, 1.0], pi_prev=[[0.9, 0.1], [0.2, 0.8]],
           sigma=3.0, beta=0.9, nu=1.0)


@pytest.mark.parametrize("change, match", [
    ({"pi_prev": [[0.9, 0.2], [0.2, 0.8]]}, r"pi_prev\[0\]: rows must sum to 1"),
    ({"pi_prev": [[1.1, -0.1], [0.2, 0.8]]}, r"pi_prev\[0, 1\]: must be >= 0"),
    ({"X0": [[1.0, -0.2], [0.2, 1.0]]}, r"X0\[0, 1\]: must be >= 0"),
    ({"X0": [[1.0, 0.5], [0.2, 1.0]]}, r"trade must be balanced"),
    ({"beta": 1.5}, r"beta: must be < 1"),
    ({"nu": 0.0}, r"nu: must be > 0"),
])
def test_observables_validation(change, match):
    with pytest.raises(InvalidParamsError, match=match):
        Observables(**{**OBS, **change})


def test_changes_validation(world):
    obs = Observables(**OBS)
    with pytest.raises(InvalidParamsError, match=r"A_dot: must have shape \(T, 2\)"):
        solve_dynamic_hat(obs, np.ones((5, 3)))
    with pytest.raises(InvalidParamsError, match=r"A_dot\[0, 0\]: must be > 0"):
        solve_dynamic_hat(obs, -np.ones((5, 2)))
    with pytest.raises(InvalidParamsError, match=r"A_hat: must have 60 rows"):
        solve_counterfactual(world["lev"], np.ones((10, world["p"].n_regions)))
    with pytest.raises(InvalidParamsError, match=r"method: must be one of"):
        Numerics(method="newton")
    with pytest.raises(InvalidParamsError, match=r"tau_dot: must have shape \(T, 2, 2\)"):
        solve_dynamic_hat(obs, tau_dot=np.ones((5, 3, 3)))
    with pytest.raises(InvalidParamsError, match=r"tau_dot: must have 5 rows"):
        solve_dynamic_hat(obs, np.ones((5, 2)), tau_dot=np.ones((4, 2, 2)))
    with pytest.raises(InvalidParamsError, match=r"tau_hat\[0, 0, 0\]: must be > 0"):
        solve_counterfactual(world["lev"], tau_hat=-np.ones((60, *world["lev"].pi.shape[1:])))


def test_horizon_too_short_raises():
    p = _economy(1, 3, 0.9, 0.5)
    short = p.with_(A_path=p.A_path[:6], tau_path=p.tau_path[:6])  # still ramping at T = 5
    with pytest.raises(SolverConvergenceError, match=r"horizon too short.*T=5"):
        solve(short)
    obs = solve(p).observables()
    with pytest.raises(SolverConvergenceError, match=r"horizon too short"):
        solve_dynamic_hat(obs, np.full((4, 3), 0.9))


# ---- protocol: registry, YAML configs -----------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "configs/models/dynamic_spatial_example.yaml"


def test_example_config_registry_solve_and_round_trip(tmp_path):
    """The shipped YAML loads (knots expanded), solves through the registry with moments, and
    dumps back to a config that reloads to equal params."""
    cfg = load_model_config(EXAMPLE)
    p = cfg.params
    assert cfg.model is get_model("dynamic_spatial") and p.horizon == 60
    np.testing.assert_allclose(p.A_path[3, 0], 1.2 * 0.8 ** 0.4, rtol=1e-14)  # log-linear
    np.testing.assert_allclose(p.A_path[6:, 0], 0.96, rtol=1e-14)
    np.testing.assert_allclose(p.tau_path[8:, 1, 2], 1.2, rtol=1e-14)
    sol = get_model("dynamic_spatial").solve(p, numerics=cfg.numerics)
    mom = sol.moments()
    assert sol.converged and set(mom) == set(PATH_MOMENTS)
    assert set(mom) == set(get_model("dynamic_spatial").moment_names)
    assert mom["shocked_region"] == 0 and mom["pop_change_long_run"] < -0.1
    arrays = solution_arrays(sol)
    assert set(arrays) == {"w", "P", "L", "V", "pi", "lam", "X", "pi_prev", "P_rel", "V_rel"}
    dumped = dump_model_config(cfg, tmp_path / "again.yaml")
    assert load_model_config(dumped).params == p


def test_config_errors_name_the_path(tmp_path):
    text = EXAMPLE.read_text().replace("      0: [1.2, 1.0, 0.9]\n", "", 1)
    text = text.replace("beta: 0.9 ", "beta: 1.5 ")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(InvalidConfigError,
                       match=r"params\.A_path\.knots: needs a knot at period 0"):
        load_model_config(bad)
    bad.write_text(EXAMPLE.read_text().replace("horizon: 60", "horizon: 0", 1))
    with pytest.raises(InvalidConfigError, match=r"params\.A_path\.horizon: must be >= 1"):
        load_model_config(bad)
