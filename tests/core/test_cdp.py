"""Caliendo-Dvorkin-Parro (Part B): levels vs dynamic hat algebra vs hat of dots, Part A nesting.

Tolerances. Every solver stops at 1e-11 (labour path: max |log L_new - log L|; Bellman fixed
points, relative) or 1e-12 (each period's goods markets: max |log F - log R|, prices 1e-13).
Errors propagate through T = 40 periods of values discounted by beta <= 0.93 and of labour
flows that are contractions; measured cross-method gaps are 3e-13 to 1.5e-11 (relative).
We assert CROSS = 1e-8, which still fails for any timing or algebra slip (those produce
gaps of 1e-3 or more; see test_timing_matters).
"""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError, SolverConvergenceError, get_model
from hetspace.core.dynamic_spatial import Params, solve, solve_dynamic_hat
from hetspace.core.dynamic_spatial.cdp_dynamic import (
    baseline_wages,
    solve_cdp,
    solve_cdp_counterfactual,
    solve_cdp_hat,
    solve_cdp_steady_state,
)
from hetspace.core.dynamic_spatial.cdp_params import (
    CDPObservables,
    CDPParams,
    Structure,
    expenditure,
)
from hetspace.core.dynamic_spatial.cdp_result import CDP_STEADY_STATE_MOMENTS

CROSS = 1e-8
T = 40


def _ramp(n, j, size, start, length, N, J):
    """(T+1, N, J) factor: market (n, j) moves by ``size`` between start and start + length."""
    out = np.ones((T + 1, N, J))
    out[:, n, j] = size ** np.clip((np.arange(T + 1) - start) / length, 0.0, 1.0)
    return out


def _frac(start, length):
    """(T+1,) phase-in fraction: 0 until ``start``, then linear to 1 over ``length`` periods."""
    return np.clip((np.arange(T + 1) - start) / length, 0.0, 1.0)


def _other_paths(p, size, i, k, start):
    """Paths of the non-productivity fundamentals: sector-0 iceberg costs between regions i
    and k scale by ``size``, home production of region k by 1/size, and the relocation cost
    from every market of region i to every market of region k falls by (1 - size) nu."""
    s = p.structure
    S, frac = s.n_slots, _frac(start, 6)
    kappa = np.array(p.trade_costs())
    kappa[:, 0, i, k] *= size**frac
    kappa[:, 0, k, i] *= size**frac
    tau = np.array(p.migration_costs())
    tau[:, i * S:(i + 1) * S, k * S:(k + 1) * S] -= ((1 - size) * s.nu * frac)[:, None, None]
    out = {"kappa_path": kappa, "tau_path": tau}
    if s.non_employment:
        b = np.array(p.home_production())
        b[:, k] *= size**-frac
        out["b_path"] = b
    return out


def _economy(seed, N, J, non_employment, beta, nu):
    """Random economy with materials and structures, started in its period-0 steady state;
    along the path productivity, trade costs, home production and relocation costs change."""
    rng = np.random.default_rng(seed)
    S = J + int(non_employment)
    g = rng.uniform(0.4, 0.8, (N, J))
    io = rng.uniform(0.1, 1.0, (N, J, J))
    io *= ((1.0 - g) / io.sum(axis=2))[:, :, None]
    alpha = rng.dirichlet(np.ones(J))
    s = Structure(beta=beta, nu=nu, theta=rng.uniform(3.0, 8.0, J), alpha=alpha, gamma_va=g,
                  io=io, xi=rng.uniform(0.1, 0.3, N), iota=rng.dirichlet(np.ones(N)),
                  non_employment=non_employment)
    kappa = 1.0 + rng.uniform(0.2, 1.0, (J, N, N))
    kappa[:, np.arange(N), np.arange(N)] = 1.0
    tau = nu * rng.uniform(1.5, 3.0, (N * S, N * S))
    np.fill_diagonal(tau, 0.0)
    A0 = rng.uniform(0.5, 1.5, (N, J))
    p = CDPParams(structure=s, A_path=A0 * _ramp(0, J - 1, 0.7, 1, 5, N, J), kappa=kappa,
                  tau=tau, L0=rng.uniform(0.5, 1.5, (N, S)), H=rng.uniform(0.5, 2.0, (N, J)),
                  b=rng.uniform(0.05, 0.1, N) if non_employment else None)
    p = p.with_(L0=solve_cdp_steady_state(p, period=0).L)
    return p.with_(**_other_paths(p, 0.85, 0, 1, 2))


CASES = [(1, 2, 2, True, 0.9, 1.5), (2, 3, 2, False, 0.93, 1.0)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"N{c[1]}-J{c[2]}-home{c[3]}")
def world(request):
    seed, N, J, home, beta, nu = request.param
    p = _economy(seed, N, J, home, beta, nu)
    # counterfactual: period-0 fundamentals unchanged, then a productivity rise in the last
    # region's first sector and the other fundamentals changing between regions N-1 and 0
    p_cf = p.with_(A_path=p.A_path * _ramp(N - 1, 0, 1.3, 3, 8, N, J),
                   **_other_paths(p, 0.9, N - 1, 0, 4))
    lev = solve_cdp(p)
    lev_cf = solve_cdp(p_cf, warm_start=lev)
    hat = solve_cdp_hat(lev.observables(), **lev.changes())
    a, b = lev.changes(), lev_cf.changes()
    hats = {"A_hat": b["A_dot"] / a["A_dot"], "kappa_hat": b["kappa_dot"] / a["kappa_dot"],
            "tau_diff_hat": b["tau_diff"] - a["tau_diff"]}
    if p.structure.non_employment:
        hats["b_hat"] = b["b_dot"] / a["b_dot"]
    return {"p": p, "lev": lev, "lev_cf": lev_cf, "hat": hat, "hats": hats}


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=CROSS, atol=CROSS)


def test_dynamic_hat_equals_levels(world):
    lev, hat = world["lev"], world["hat"]
    assert lev.moments()["employment_change_long_run"] < -0.01  # the shock moves people
    for name in ("L", "w", "P_rel", "Pc_rel", "V_rel", "mu", "X", "lam"):
        _close(getattr(hat, name), getattr(lev, name))
    _close(hat.u_dot, lev.u_dot)


def test_cdp_time_change_equations_hold(world):
    """CDP's equilibrium conditions in time changes, recomputed from the levels path."""
    lev, s = world["lev"], world["p"].structure
    b, nu = s.beta, s.nu
    g = lev.u_dot[1:].reshape(T - 1, -1) ** (b / nu)  # u-dot_{t+2}
    # relocation costs change: odds scale by exp(-(tau_{t+1} - tau_t) / nu)
    assert np.max(np.abs(lev.tau_diff)) > 0.01
    num = lev.mu[:-2] * np.exp(-lev.tau_diff[:-1] / nu) * g[:, None, :]
    _close(lev.mu[1:-1], num / num.sum(axis=2, keepdims=True))
    flow = np.ones(lev.u_dot.shape)
    flow[..., int(s.non_employment):] = lev.w_dot / lev.Pc_dot[:, :, None]
    if s.non_employment:
        flow[..., 0] = lev.b_dot  # home production changes too
    _close(lev.u_dot[:-1].reshape(T - 1, -1),
           flow[:-1].reshape(T - 1, -1) * num.sum(axis=2) ** nu)
    L_dot = lev.employment[1:] / lev.employment[:-1]
    x_dot = (lev.w_dot * L_dot ** s.xi[:, None]) ** s.gamma_va
    x_dot = x_dot * np.exp(np.einsum("njk,tnk->tnj", s.io, np.log(lev.P_dot)))
    cost = (x_dot / lev.A_dot ** s.gamma_va).transpose(0, 2, 1)[:, :, :, None] * lev.kappa_dot
    assert np.max(np.abs(np.log(lev.kappa_dot))) > 0.01
    rel = (cost / lev.P_dot.transpose(0, 2, 1)[:, :, None, :]) ** -s.theta[None, :, None, None]
    _close(lev.lam[1:], lev.lam[:-1] * rel)


def test_static_markets_clear(world):
    lev, s = world["lev"], world["p"].structure
    R = lev.R
    for t in (0, 5, T):
        _close(lev.X[t].sum(axis=1).T, expenditure(R[t], s))  # goods, materials + final
        _close(lev.w[t] * lev.employment[t], s.gamma_va * (1 - s.xi)[:, None] * R[t])
    _close(np.sum(s.gamma_va * R, axis=(1, 2)), world["p"].L0.sum())  # normalisation
    flat = lev.L.reshape(T + 1, -1)
    _close(flat[1:], np.einsum("tmk,tm->tk", lev.mu[:-1], flat[:-1]))  # eq. 3


def test_counterfactual_from_observables_equals_levels(world):
    lev, lev_cf = world["lev"], world["lev_cf"]
    cf = solve_cdp_counterfactual(world["hat"], **world["hats"])
    _close(cf.L, lev_cf.L)
    _close(cf.w_hat, lev_cf.w_dot / lev.w_dot)
    _close(cf.P_hat, lev_cf.P_dot / lev.P_dot)
    _close(cf.u_hat, lev_cf.u_dot / lev.u_dot)
    _close(cf.L_hat, (lev_cf.L[1:] / lev_cf.L[:-1]) / (lev.L[1:] / lev.L[:-1]))
    _close(cf.mu, lev_cf.mu)
    _close(cf.V_diff, lev_cf.V - lev.V)
    assert abs(cf.moments()["employment_change_long_run"]) > 0.01


def test_hat_of_dots_from_levels_baseline_and_welfare(world):
    """Baseline straight from levels (a path, not a steady state); CDP's welfare measure
    V'_0 - V_0 = sum_t beta^t log((C'_t / C_t) / (mu'^{nn}_t / mu^{nn}_t)^nu), which follows
    from V_t = log C_t + beta V_{t+1} - nu log mu_t^{nn} (tau^{nn} = 0); steady from T on."""
    lev, lev_cf, s = world["lev"], world["lev_cf"], world["p"].structure
    cf = solve_cdp_counterfactual(lev, **world["hats"])
    _close(cf.L, lev_cf.L)
    _close(cf.u_hat, lev_cf.u_dot / lev.u_dot)
    _close(cf.w_ratio, lev_cf.w / lev.w)
    _close(baseline_wages(lev), lev.w)
    c_hat = np.zeros(cf.V_diff.shape)
    c_hat[..., int(s.non_employment):] = np.log(cf.w_ratio / cf.Pc_ratio[:, :, None])
    if s.non_employment:  # home production b'_t / b_t (tau^{nn} stays zero)
        c_hat[..., 0] = np.log(lev_cf.params.b_path / lev.params.b_path)
    stay = np.log(np.diagonal(cf.mu, axis1=1, axis2=2) / np.diagonal(lev.mu, axis1=1, axis2=2))
    terms = c_hat.reshape(T + 1, -1) - s.nu * stay
    disc = s.beta ** np.arange(T + 1)
    disc[-1] /= 1.0 - s.beta
    _close(disc @ terms, cf.V_diff[0].ravel())
    _close(cf.welfare_ce, np.exp((1 - s.beta) * (lev_cf.V[0] - lev.V[0])) - 1)


def test_timing_matters(world):
    """With the baseline's mu_{-1}, Proposition-1 hat algebra does NOT recover an
    unanticipated change: the gap is far above CROSS, so the tests above discriminate."""
    wrong = solve_cdp_hat(world["lev"].observables(), **world["lev_cf"].changes())
    assert np.max(np.abs(wrong.L - world["lev_cf"].L)) > 1e-4


def test_part_a_is_the_special_case():
    """J = 1, gamma = 1 (no materials), xi = 0 (no structures), no non-employment, theta =
    sigma - 1, kappa = tau: the CDP solvers reproduce Part A's numbers."""
    rng = np.random.default_rng(11)
    N, sigma, beta, nu = 3, 4.0, 0.9, 1.0
    tau = 1.0 + rng.uniform(0.2, 1.0, (N, N))
    np.fill_diagonal(tau, 1.0)
    m = rng.uniform(1.5, 3.0, (N, N))
    np.fill_diagonal(m, 0.0)
    A_path = rng.uniform(0.5, 1.5, N) * _ramp(0, 0, 0.8, 1, 4, N, 1)[:, :, 0]
    L0 = rng.uniform(0.5, 1.5, N)
    pa = Params(sigma=sigma, beta=beta, nu=nu, A_path=A_path, tau=tau, m=m, L0=L0)
    s = Structure(beta=beta, nu=nu, theta=[sigma - 1.0], alpha=[1.0], gamma_va=np.ones((N, 1)),
                  io=np.zeros((N, 1, 1)), xi=np.zeros(N), non_employment=False)
    pb = CDPParams(structure=s, A_path=A_path[:, :, None], kappa=tau[None], tau=m,
                   L0=L0[:, None])
    a, b = solve(pa), solve_cdp(pb)
    _close(b.L[:, :, 0], a.L)
    _close(b.w[:, :, 0], a.w)
    _close(b.P[:, :, 0], a.P)
    _close(b.V[:, :, 0], a.V)
    _close(b.X[:, 0], a.X)
    a_hat, b_hat = solve_dynamic_hat(a.observables(), a.A_dot), solve_cdp_hat(b.observables(),
                                                                                b.A_dot)
    _close(b_hat.u_dot[:, :, 0], a_hat.u_dot)
    _close(b_hat.L[:, :, 0], a_hat.L)


def test_steady_state_is_fixed_point_of_time_changes():
    p = _economy(5, 2, 2, True, 0.9, 1.0)
    ss = solve_cdp_steady_state(p, period=0)
    L, V, mu = ss.L, ss.V, ss.mu
    assert ss.converged and ss.residuals["max_relative_labour_change"] < 1e-10
    assert 0.0 < ss.moments()["non_employment_rate"] < 1.0
    _close(L, p.L0)
    _close(mu.T @ L.ravel(), L.ravel())
    lev = solve_cdp(p.with_(A_path=np.broadcast_to(p.A_path[0], (6, 2, 2)), kappa_path=None,
                            b_path=None, tau_path=None))
    _close(lev.V[0], V)
    _close(lev.X[0], ss.X)
    _close(lev.w[0], ss.w)
    hat = solve_cdp_hat(lev.observables(), T=20)
    for dots in (hat.u_dot, hat.w_dot, hat.P_dot):
        np.testing.assert_allclose(dots, 1.0, rtol=0, atol=1e-10)
    _close(hat.mu, np.broadcast_to(mu, hat.mu.shape))


def test_warm_start_matches_cold_and_moments(world):
    lev, lev_cf = world["lev"], world["lev_cf"]
    cold = solve_cdp(lev_cf.params)
    _close(lev_cf.L, cold.L)
    _close(lev_cf.V, cold.V)
    assert lev_cf.n_iter < cold.n_iter
    mom = lev.moments()
    assert set(mom) == set(get_model("dynamic_spatial_cdp").moment_names)
    assert mom["shocked_sector"] == world["p"].structure.n_sectors
    assert 0 < mom["employment_half_life"] < T and mom["horizon_gap"] < 1e-6
    home = world["p"].structure.non_employment
    assert (0.02 < mom["non_employment_rate_T"] < 0.6) if home else mom[
        "non_employment_rate_T"] == 0.0


def test_horizon_too_short_raises(world):
    p = world["p"]
    with pytest.raises(SolverConvergenceError, match=r"horizon too short.*T=4"):
        solve_cdp(p.with_(A_path=p.A_path[:5], kappa_path=p.kappa_path[:5],
                          tau_path=p.tau_path[:5],
                          b_path=None if p.b_path is None else p.b_path[:5]))


# ---- validation ---------------------------------------------------------------------------

STRUCT = dict(beta=0.9, nu=1.0, theta=[4.0, 5.0], alpha=[0.5, 0.5],
              gamma_va=[[0.5, 0.6], [0.7, 0.4]],
              io=[[[0.25, 0.25], [0.2, 0.2]], [[0.1, 0.2], [0.3, 0.3]]], xi=[0.2, 0.1])


@pytest.mark.parametrize("change, match", [
    ({"beta": 1.0}, r"beta: must be < 1"),
    ({"nu": 0.0}, r"nu: must be > 0"),
    ({"theta": [4.0, -1.0]}, r"theta\[1\]: must be > 0"),
    ({"alpha": [0.5, 0.6]}, r"alpha: must sum to 1"),
    ({"alpha": [1.5, -0.5]}, r"alpha\[1\]: must be >= 0"),
    ({"io": [[[0.3, 0.25], [0.2, 0.2]], [[0.1, 0.2], [0.3, 0.3]]]},
     r"io: gamma_va\[n, j\] \+ sum_k io\[n, j, k\] must equal 1 \(first at n=0, j=0\)"),
    ({"gamma_va": [[0.0, 0.6], [0.7, 0.4]]}, r"gamma_va\[0, 0\]: must be > 0"),
    ({"xi": [1.0, 0.1]}, r"xi\[0\]: must be < 1"),
    ({"iota": [0.5, 0.6]}, r"iota: must sum to 1"),
])
def test_structure_validation(change, match):
    with pytest.raises(InvalidParamsError, match=match):
        Structure(**{**STRUCT, **change})


def _params(**change):
    s = Structure(**STRUCT)
    base = dict(structure=s, A_path=np.ones((3, 2, 2)), kappa=np.full((2, 2, 2), 1.5),
                tau=np.ones((6, 6)), L0=np.ones((2, 3)), b=[0.5, 0.5])
    return CDPParams(**{**base, **change})


@pytest.mark.parametrize("change, match", [
    ({"kappa": np.full((2, 2, 2), 0.9)}, r"kappa\[0, 0, 0\]: must be >= 1"),
    ({"tau": -np.ones((6, 6))}, r"tau\[0, 0\]: must be >= 0"),
    ({"tau": np.ones((4, 4))}, r"tau: must have shape \(6, 6\)"),
    ({"L0": np.zeros((2, 3))}, r"L0\[0, 0\]: must be > 0"),
    ({"b": None}, r"b: is required"),
    ({"A_path": np.ones((1, 2, 2))}, r"A_path: must have shape \(T\+1, 2, 2\) with T >= 1"),
    ({"kappa_path": np.full((3, 2, 2, 2), 2.0)}, r"kappa_path\[0\] must equal kappa"),
    ({"tau_path": np.ones((3, 4, 4))}, r"tau_path: must have shape \(3, 6, 6\)"),
    ({"b_path": np.full((3, 2), -1.0)}, r"b_path\[0, 0\]: must be > 0"),
])
def test_params_validation(change, match):
    with pytest.raises(InvalidParamsError, match=match):
        _params(**change)


def test_observables_validation(world):
    obs = world["lev"].observables()
    mu = obs.mu_prev.copy()
    mu[0, 0] += 0.1
    with pytest.raises(InvalidParamsError, match=r"mu_prev\[0\]: rows must sum to 1"):
        obs.with_(mu_prev=mu)
    X = obs.X0.copy()
    X[0, 0, 1] = -1.0
    with pytest.raises(InvalidParamsError, match=r"X0\[0, 0, 1\]: must be >= 0"):
        obs.with_(X0=X)
    X = obs.X0.copy()
    X[0, 0, 1] *= 1.5
    with pytest.raises(InvalidParamsError, match=r"X0: goods markets must clear"):
        obs.with_(X0=X)
    X = obs.X0.copy()
    X[0, 0, :] = 0.0
    with pytest.raises(InvalidParamsError, match=r"every market must produce"):
        obs.with_(X0=X)
    with pytest.raises(InvalidParamsError, match=r"A_dot: must have shape \(T, "):
        solve_cdp_hat(obs, np.ones((5, 7, 2)))
    with pytest.raises(InvalidParamsError, match=r"A_hat: must have 40 rows"):
        solve_cdp_counterfactual(world["lev"], np.ones((3, *obs.X0.shape[1:2], 2)))
    assert isinstance(obs, CDPObservables)


# ---- protocol: registry entry, YAML configs, steady-state result ----------------------------

CDP_YAML = """\
model: dynamic_spatial_cdp
params:
  structure:
    beta: 0.9
    nu: 1.0
    theta: [4.0, 5.0]
    alpha: [0.5, 0.5]
    gamma_va: [[0.5, 0.6], [0.7, 0.4]]
    io: [[[0.25, 0.25], [0.2, 0.2]], [[0.1, 0.2], [0.3, 0.3]]]
    xi: [0.2, 0.1]
  A_path:
    horizon: 30
    knots: {0: [[1.0, 1.0], [1.0, 1.0]], 5: [[1.0, 0.8], [1.0, 1.0]]}
  kappa: [[[1, 1.5], [1.5, 1]], [[1, 2], [2, 1]]]
  tau: %s
  L0: [[0.1, 0.5, 0.4], [0.1, 0.4, 0.5]]
  b: [0.3, 0.3]
  b_path:
    horizon: 30
    knots: {0: [0.3, 0.3], 10: [0.3, 0.36]}
numerics:
  tol: 1.0e-10
"""


def _cdp_yaml(tmp_path, text):
    from hetspace.core.dynamic_spatial.cdp_model import MODEL
    from hetspace.core.protocol import register_model

    register_model(MODEL)  # until protocol.py lists dynamic_spatial_cdp as a builtin
    path = tmp_path / "cdp.yaml"
    path.write_text(text % (2.0 * (1.0 - np.eye(6))).tolist())
    return path


def test_cdp_yaml_config_loads_with_nested_structure(tmp_path):
    from hetspace.core.config import load_model_config

    cfg = load_model_config(_cdp_yaml(tmp_path, CDP_YAML))
    p = cfg.params
    assert cfg.model.name == "dynamic_spatial_cdp" and cfg.model.Params is CDPParams
    assert p.structure == Structure(**STRUCT) and p.horizon == 30
    np.testing.assert_allclose(p.A_path[5:, 0, 1], 0.8, rtol=1e-14)
    np.testing.assert_allclose(p.home_production()[10:, 1], 0.36, rtol=1e-14)
    assert CDPParams.from_dict(p.to_dict()) == p  # round trip through plain data


def test_cdp_yaml_errors_name_the_nested_path(tmp_path):
    from hetspace.core.config import load_model_config
    from hetspace.core.errors import InvalidConfigError

    text = CDP_YAML.replace("alpha: [0.5, 0.5]", "alpha: [1.5, -0.5]")
    with pytest.raises(InvalidConfigError, match=r"params\.structure\.alpha\[1\]: must be >= 0"):
        load_model_config(_cdp_yaml(tmp_path, text))
    text = CDP_YAML.replace("knots: {0: [0.3, 0.3],", "knots: {0: [0.3, 0.4],")
    with pytest.raises(InvalidConfigError, match=r"params\.b_path: b_path\[0\] must equal b"):
        load_model_config(_cdp_yaml(tmp_path, text))


def test_cdp_registry_solve_follows_protocol(world):
    from hetspace.core.dynamic_spatial.cdp_model import MODEL
    from hetspace.core.protocol import solution_arrays

    lev = world["lev"]
    sol = MODEL.solve(world["p"], numerics=None, warm_start=lev)
    assert sol.converged and sol.moments() == pytest.approx(lev.moments(), rel=1e-8)
    assert {"w", "L", "V", "mu", "mu_prev", "X", "lam"} <= set(solution_arrays(sol))
    ss = solve_cdp_steady_state(world["p"], period=0)
    assert set(ss.moments()) == set(CDP_STEADY_STATE_MOMENTS)
    with pytest.raises(AttributeError):
        ss.L = ss.L  # frozen


def test_changes_validation_cdp(world):
    lev, s = world["lev"], world["p"].structure
    obs = lev.observables()
    M = s.n_markets
    with pytest.raises(InvalidParamsError, match=rf"tau_diff: must have shape \(T, {M}, {M}\)"):
        solve_cdp_hat(obs, tau_diff=np.zeros((5, 2, 2)))
    with pytest.raises(InvalidParamsError, match=r"kappa_dot: must have 5 rows"):
        solve_cdp_hat(obs, np.ones((5, s.n_regions, s.n_sectors)),
                      kappa_dot=np.ones((4, *lev.params.kappa.shape)))
    if not s.non_employment:
        with pytest.raises(InvalidParamsError, match=r"b_hat: needs non-employment"):
            solve_cdp_counterfactual(lev, b_hat=np.ones((T, s.n_regions)))
