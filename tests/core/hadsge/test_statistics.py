"""The hadsge simulation hook (ModelSpec.simulate): seeded, checked against Proposition 2
and against the frictionless symmetric case, where choices are independent of everything
but the opportunity shocks."""

import numpy as np

from hetspace.core import get_model
from hetspace.core.hadsge import SIMULATED, example_params, simulate_cohort, simulate_statistics
from hetspace.core.hadsge.statistics import HORIZONS

N = 20_000


def test_the_hook_is_registered_and_reproducible():
    model = get_model("hadsge")
    assert model.simulate is simulate_statistics
    assert model.simulated_names == tuple(SIMULATED)
    sol = model.solve(example_params(n_ages=4))
    a, b, c = (simulate_statistics(sol, 500, seed) for seed in (3, 3, 4))
    assert list(a) == list(SIMULATED)
    assert a == b and a != c
    # the working life has 3 periods after the shock: later horizons are undefined
    for h in HORIZONS:
        for kind in ("earnings", "assets", "employment"):
            assert np.isfinite(a[f"es_{kind}_{h}"]) == (h <= 3), (kind, h)


def test_simulated_mobility_matches_proposition_2():
    """Proposition 2's mobility (quadrature, no simulation) within 4 sampling s.d.: agents
    are independent, so the s.d. is that of agents' own switching rates over sqrt(N)."""
    p = example_params(tau=0.86, psi=0.87, chi=0.95)
    sol = get_model("hadsge").solve(p)
    stats = simulate_statistics(sol, N, seed=21)
    hist = simulate_cohort(p, sol.numerics, n_agents=N, seed=21)
    per_agent = np.mean(hist.market[:, 1:] != hist.market[:, :-1], axis=1)
    assert stats["mobility"] == per_agent.mean()
    sd = per_agent.std(ddof=1) / np.sqrt(N)
    assert abs(stats["mobility"] - sol.moments()["mobility"]) < 4 * sd


def test_without_frictions_switchers_are_like_stayers():
    """tau = psi = chi = 1 in symmetric markets: every market offers the same omega and
    value, so the choice is the argmax of iid shocks: mobility is 1 - 1/J and switchers'
    earnings and assets grow like stayers' (gaps zero within 4 s.d. of the difference
    of two independent means); the event study's exposed workers lose the return fall
    in their market's returns only as long as they stay, so the market's employment falls."""
    J = 3
    p = example_params(tau=1.0, psi=1.0, chi=1.0)
    sol = get_model("hadsge").solve(p)
    stats = simulate_statistics(sol, N, seed=8)
    hist = simulate_cohort(p, sol.numerics, n_agents=N, seed=8)
    switch = hist.market[:, 1:] != hist.market[:, :-1]
    per_agent = switch.mean(axis=1)
    assert abs(stats["mobility"] - (1 - 1 / J)) < 4 * per_agent.std(ddof=1) / np.sqrt(N)
    for name, x in (("switch_earnings_gap", np.diff(np.log(hist.earnings), axis=1)),
                    ("switch_assets_gap", np.diff(np.log(hist.k), axis=1))):
        # per-agent means keep the s.d. honest about agents' correlated periods
        ok = switch.any(axis=1) & (~switch).any(axis=1)
        mean_s = np.nanmean(np.where(switch, x, np.nan)[ok], axis=1)
        mean_n = np.nanmean(np.where(~switch, x, np.nan)[ok], axis=1)
        sd = (mean_s - mean_n).std(ddof=1) / np.sqrt(ok.sum())
        assert abs(stats[name]) < 4 * sd, (name, stats[name], sd)
    assert stats["es_employment_3"] < 0


def test_the_smaller_transfer_share_shows_in_its_switcher_gap():
    """tau below psi: switchers' earnings grow less than stayers' relative to their assets
    (the notes' R_h / R_k = tau / psi), by well over the sampling noise (gap s.d. below
    0.004 at 20,000 agents, test_without_frictions...); psi below tau: the reverse."""
    model = get_model("hadsge")
    low_tau = simulate_statistics(model.solve(example_params(tau=0.80, psi=0.86)), N, seed=2)
    low_psi = simulate_statistics(model.solve(example_params(tau=0.86, psi=0.80)), N, seed=2)
    assert low_tau["switch_earnings_gap"] < low_tau["switch_assets_gap"] - 0.05
    assert low_psi["switch_earnings_gap"] > low_psi["switch_assets_gap"] + 0.05
