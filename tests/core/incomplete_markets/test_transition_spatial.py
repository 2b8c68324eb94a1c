"""GE transitions of the spatial closure (``incomplete_markets.transition_spatial``).

Three locations (the economy of test_spatial.py: trade, agglomeration, transfers,
logit migration), one income state, 40 asset points, household tolerances 1e-12.
The GE Jacobian H_U (fake-news Jacobians of a ProjectedBlock plus the closed-form
goods block) is checked column by column against two-sided differences of the
targets along nonlinear household paths; linear impulses against nonlinear
perfect-foresight paths, which use H_U only for their step direction.

Measured (T = 100, shock -size 0.8^t to A_1): the largest gap between linear and
nonlinear deviations is 7.35e-6, 2.93e-5, 1.16e-4 at sizes 0.005, 0.01, 0.02 (peak
response 3.9e-3 to 1.6e-2): ratio 3.98 per doubling. Difference quotients of H_U's
columns in w_1, log L and A have relative errors 6e-7 / 6e-9 at steps 1e-3 / 1e-4
(h^2); in w_2 and r 2e-5 to 2e-4 at both (those steps move endogenous grid points
across asset nodes, where the piecewise-linear policies have kinks) and 1e-10 to
5e-10 at 1e-5 (1e-10 to 1e-9 at 1e-6: household tolerance 1e-12 over the step).
"""

import itertools

import numpy as np
import pytest

from hetspace.core.errors import InvalidParamsError, SolverConvergenceError
from hetspace.core.incomplete_markets import Numerics, Params, solve
from hetspace.core.incomplete_markets.goods import price_index
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params
from hetspace.core.incomplete_markets.transition import HouseholdBlock
from hetspace.core.incomplete_markets.transition_spatial import SpatialTransition
from hetspace.core.incomplete_markets.transition_welfare import transition_welfare
from hetspace.core.transitions import ProjectedBlock, fake_news_jacobian

T = 100
CHI = np.array([[1.0, 0.03, 0.02], [0.04, 1.0, 0.03], [0.02, 0.05, 1.0]])
A3 = np.array([[1.0, 0.6, 0.5], [0.6, 1.05, 0.6], [0.5, 0.6, 0.95]])
NUM = Numerics(n_a=40, a_max=30.0, tol_policy=1e-12, tol_value=1e-12, tol_dist=1e-13)
SHAPE = 0.8 ** np.arange(T)


def _params(A=A3) -> Params:
    return Params(gamma=1.0, beta=0.988, omega=0.987, e_grid=(1.0,), Pi=((1.0,),),
                  a_low=-0.6, chi=CHI, theta=0.5, closure="spatial", A=A, alpha_agg=0.04,
                  sigma_trade=5.0, kappa_transfer=(0.1, -0.05, 0.0))


@pytest.fixture(scope="module")
def steady():
    return solve(_params(), NUM)


@pytest.fixture(scope="module")
def transition(steady):
    return SpatialTransition(steady, T)


@pytest.fixture(scope="module")
def shocked(steady):
    """The steady state after a permanent -1% productivity shock to location 1."""
    A = A3.copy()
    A[1] *= 0.99
    return solve(_params(A), NUM, warm_start=steady)


@pytest.mark.parametrize(("name", "s", "steps", "bound"), [
    ("w_1", 0, (1e-3, 1e-4), 1e-7), ("w_1", 20, (1e-3, 1e-4), 1e-7),
    ("logL_2", 10, (1e-3, 1e-4), 1e-7), ("w_2", 5, (1e-5,), 1e-8), ("r", 1, (1e-5,), 1e-8),
    ("r", 6, (1e-5,), 1e-8)])
def test_ge_jacobian_columns_match_differences_of_nonlinear_paths(transition, name, s, steps,
                                                                  bound):
    u0 = transition.steady_unknowns()
    e = np.zeros_like(u0)
    e[s, transition.unknown_names.index(name)] = 1.0
    col = transition.jacobian_times(transition.flatten_unknowns(e))
    assert np.abs(col).max() > 0.5
    errors = []
    for h in steps:
        fd = (transition.targets(u0 + h * e) - transition.targets(u0 - h * e)) / (2.0 * h)
        errors.append(np.abs(fd - col).max() / np.abs(col).max())
    assert errors[-1] < bound, errors
    if len(steps) == 2:  # central differences: error ~ h^2, 100x per decade
        assert 30.0 < errors[0] / errors[1] < 300.0, errors


@pytest.mark.parametrize("s", [0, 7])
def test_shock_jacobian_columns_match_differences(transition, s):
    H_z = transition.shock_jacobian("A_1")
    u0 = transition.steady_unknowns()
    errors = []
    for h in (1e-3, 1e-4):
        z = np.zeros(T)
        z[s] = h
        fd = (transition.targets(u0, {"A_1": z}) - transition.targets(u0, {"A_1": -z})) / (2 * h)
        errors.append(np.abs(fd - H_z[:, s]).max() / np.abs(H_z[:, s]).max())
    assert errors[1] < 1e-7 and 30.0 < errors[0] / errors[1] < 300.0, errors


def test_projected_jacobian_is_the_projection_of_the_full_one(steady):
    # the fake-news algorithm along directions B and target vectors C = C J B exactly
    block = HouseholdBlock(steady)
    full = fake_news_jacobian(block, 30).J  # (n_out, n_in, T, T)
    rng = np.random.default_rng(0)
    B, C = rng.normal(size=(len(block.inputs), 2)), rng.normal(size=(3, len(block.outputs)))
    proj = fake_news_jacobian(ProjectedBlock(block, B, C, ["u", "v"], ["a", "b", "c"]), 30).J
    expected = np.einsum("po,oits,ik->pkts", C, full, B)
    np.testing.assert_allclose(proj, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def _second_order(gaps, peaks) -> None:
    """Linear-nonlinear gaps of shocks 0.5%, 1%, 2%: small, and 4x per doubling."""
    assert gaps[0] < 0.01 * peaks[0]
    for small, large in itertools.pairwise(gaps):
        assert 3.5 < large / small < 4.5, gaps


def test_linear_and_nonlinear_responses_agree_to_second_order(transition):
    gaps, peaks = [], []
    for size in (0.005, 0.01, 0.02):
        shock = {"A_1": -size * SHAPE}
        lin, non = transition.linear(shock), transition.nonlinear(shock)
        assert lin.names == non.names and non.n_iter >= 2
        gaps.append(np.abs(non.values - lin.values).max())
        peaks.append(np.abs(lin.values).max())
    _second_order(gaps, peaks)


def test_zero_shock_gives_zero_response(transition):
    lin = transition.linear({"A_2": np.zeros(T)})
    assert np.all(lin.values == 0.0)
    non = transition.nonlinear({"A_2": np.zeros(T)})
    assert non.n_iter == 0  # the steady state solves the targets to tol already
    np.testing.assert_allclose(non.values, 0.0, rtol=0, atol=1e-10)


def _check_markets(path_impulse, steady, A_path, goods_tol, B_end):
    """Mass, populations, goods markets of all J locations (the numeraire's by Walras'
    law), balanced transfers and bonds, recomputed from the path's prices and
    aggregates. At T - 1 bonds are not a target (r_T is the terminal steady state's),
    so there the goods markets are checked through Walras' law alone."""
    imp, J = path_impulse, 3
    dist = imp.path.dist
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    out = imp.path.outputs
    names = imp.path.output_names
    L = out[:, [names.index(f"L_{j}") for j in range(J)]]
    C = out[:, [names.index(f"C_{j}") for j in range(J)]]
    H = out[:, [names.index(f"H_{j}") for j in range(J)]]
    B = out[:, [names.index(f"A_{j}") for j in range(J)]].sum(axis=1)
    x = imp.path.inputs
    w, P, Tr = x[:, :J], x[:, J:2 * J], x[:, 2 * J:3 * J]
    p = steady.params
    B_start = np.r_[steady.aggregate_assets, B[:-1]]  # assets held into t
    for t in range(len(x)):
        P_t, lam = price_index(A_path[t], w[t], L[t], p.sigma_trade, p.alpha_agg)
        np.testing.assert_allclose(P[t], P_t, rtol=goods_tol)  # at the GE populations
        demand = lam @ (P[t] * C[t])
        if t < len(x) - 1:
            np.testing.assert_allclose(demand / (w[t] * H[t]), 1.0, rtol=0, atol=goods_tol)
        # the government budget (47) balances at the unknowns' populations, which the
        # households' match to the population targets' tolerance
        assert abs(L[t] @ Tr[t]) < goods_tol * np.abs(Tr[t]).max()
        # Walras: excess demand for goods = net dissaving (transfers balance at the
        # households' own populations, which the unknowns match)
        walras = (1.0 + x[t, -1]) * B_start[t] - B[t]
        assert abs(np.sum(demand - w[t] * H[t]) - walras) < 1e-11
    np.testing.assert_allclose(B[:-1], B_end, rtol=0, atol=1e-10)  # the solve's tol


def test_transitory_path_clears_markets_in_every_period(transition, steady):
    shock = {"A_1": -0.01 * SHAPE}
    non = transition.nonlinear(shock, tol=1e-11)
    assert non.residual < 1e-11
    A_path = np.repeat(A3[None], T, axis=0)
    A_path[:, 1] *= np.exp(shock["A_1"])[:, None]
    _check_markets(non, steady, A_path, goods_tol=1e-9,
                   B_end=np.sum(steady.dist * steady.a_next))
    np.testing.assert_allclose(non.path.dist[0], steady.dist.ravel(), rtol=0, atol=0)
    assert non.get("r")[0] == 0.0 and non.get("w_0").max() == 0.0  # r_0 set, numeraire


T_LONG = 300


@pytest.fixture(scope="module")
def permanent(steady, shocked):
    return SpatialTransition(steady, T_LONG).nonlinear(terminal=shocked, tol=1e-10)


def test_permanent_shock_path_ends_at_the_new_steady_state(steady, shocked, permanent):
    # the wealth distribution's slowest mode decays by 0.982 a period (measured), so the
    # horizon is long: at T = 300 prices and populations at the last date are within
    # 1e-6 of the new steady state (tol_spatial), assets by location within 3e-6
    non, T_long, J = permanent, T_LONG, 3
    end = {n: non.end[non.names.index(n)] for n in non.names}
    assert end["L_1"] < -0.01  # people leave the shocked location
    for j in range(J):
        np.testing.assert_allclose(steady.population[j] + end[f"L_{j}"], shocked.population[j],
                                   rtol=1e-10)
        for kind in ("L", "w", "P", "T"):
            np.testing.assert_allclose(non.get(f"{kind}_{j}")[-1], end[f"{kind}_{j}"], rtol=0,
                                       atol=1e-6)
        np.testing.assert_allclose(non.get(f"A_{j}")[-1], end[f"A_{j}"], rtol=0, atol=3e-6)
    np.testing.assert_allclose(non.get("r")[-1], end["r"], rtol=0, atol=1e-6)
    gap = np.abs(non.values - non.end).max(axis=1)
    assert gap[-1] < 1e-3 * gap[:10].max()
    # it starts from the old steady state: its distribution and the old r_0
    np.testing.assert_allclose(non.path.dist[0], steady.dist.ravel(), rtol=0, atol=0)
    assert non.get("r")[0] == 0.0 and non.get("L_1")[0] == pytest.approx(0.0, abs=1e-14)
    A_path = np.repeat(np.asarray(shocked.params.A)[None], T_long, axis=0)
    # markets clear to the new steady state's own residuals (the targets are measured from
    # them; tol_spatial = 1e-6 bounds them), the numeraire's by Walras' law
    _check_markets(non, steady, A_path, goods_tol=NUM.tol_spatial,
                   B_end=np.sum(shocked.dist * shocked.a_next))


def test_bad_inputs_raise(transition, steady, shocked):
    with pytest.raises(InvalidParamsError, match=r"shock\['B_1'\]: must be one of"):
        transition.linear({"B_1": np.zeros(T)})
    with pytest.raises(InvalidParamsError, match=rf"shock\['A_1'\]: must be {T} finite"):
        transition.nonlinear({"A_1": np.zeros(T - 1)})
    with pytest.raises(InvalidParamsError, match="may differ from the initial economy's only "
                                                 "in A"):
        transition.nonlinear(terminal=solve(_params().with_(theta=0.6), NUM, warm_start=steady))
    with pytest.raises(InvalidParamsError, match="T: must be an integer >= 2"):
        SpatialTransition(steady, 1)
    with pytest.raises(InvalidParamsError, match="outputs: must be among"):
        SpatialTransition(steady, 10, outputs=("K_0",))


def test_welfare_along_the_transition(transition, steady, shocked, permanent):
    zero = transition_welfare(steady, transition.nonlinear({"A_1": np.zeros(T)}))
    np.testing.assert_allclose(zero.newborns, 0.0, rtol=0, atol=1e-10)
    w = transition_welfare(steady, permanent, shocked)
    # newborns of the last date are the new steady state's (Solution.welfare_ce): the
    # same path of values and distributions converging, an independent computation
    np.testing.assert_allclose(w.newborns[-1], w.end, rtol=0, atol=1e-6)
    assert abs(w.end[1]) > 1e-3
    np.testing.assert_array_equal(w.initial, w.newborns[0])
    assert w.initial[1] < 0.0 and w.initial[1] == w.initial.min()  # the shocked location
    np.testing.assert_allclose(w.total[-1], shocked.welfare_ce() / steady.welfare_ce() - 1.0,
                               rtol=0, atol=1e-6)


def test_linear_permanent_path_agrees_with_nonlinear_to_second_order(steady):
    # linearised around the new steady state, the shock being the old distribution and
    # r_0 (``linear_from``). Measured (T = 300): gaps 5.0e-5, 2.0e-4, 8.5e-4 at sizes
    # 0.5%, 1%, 2% (peak response 8.8e-3 to 3.4e-2): ratios 4.07, 4.14
    T_perm, gaps, peaks = 200, [], []
    for size in (0.005, 0.01, 0.02):
        A = A3.copy()
        A[1] *= 1.0 - size
        new = solve(_params(A), NUM, warm_start=steady)
        lin = SpatialTransition(new, T_perm).linear_from(steady)
        non = SpatialTransition(steady, T_perm).nonlinear(terminal=new)
        np.testing.assert_allclose(lin.end, non.end, rtol=0, atol=1e-15)
        assert lin.get("r")[0] == 0.0 and lin.get("L_1")[0] == pytest.approx(0.0, abs=1e-15)
        gaps.append(np.abs(non.values - lin.values).max())
        peaks.append(np.abs(lin.values).max())
    _second_order(gaps, peaks)


def test_an_indeterminate_economy_is_reported(transition):
    # the synthetic economy on AL, AZ, AR (transition_spatial: determinacy): H_U's
    # condition grows with T (measured 4e7, 8e8 at T = 50, 100), the test economy's does
    # not (5e3 at T = 100, 9e3 at T = 300), and quasi-Newton steps leave the prices
    params, numerics = synthetic_params(state_codes()[:3], n_a=50)
    sol = solve(params, numerics)
    short, long = SpatialTransition(sol, 50, outputs=()), SpatialTransition(sol, 100, outputs=())
    assert long.condition > 10.0 * short.condition > 1e8
    assert transition.condition < 1e5
    with pytest.raises(SolverConvergenceError, match="left the admissible prices"):
        long.nonlinear({"A_0": -0.01 * 0.9 ** np.arange(100)})
