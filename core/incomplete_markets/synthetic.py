"""Fundamentals of the synthetic US economy shipped with the package (not US data).

Inputs that are facts: the 48 contiguous US states, their approximate
geographic centres (degrees latitude, longitude; rounded to 0.1) and resident
populations (US Census Bureau July 2017 estimates, thousands, rounded),
transcribed by hand. Everything else is invented, and the populations, wages,
trade and migration flows in the shipped data are *outputs* of this model:

    Z_i    = (pop_i / mean pop)^0.03                       productivity level
    A_ij   = Z_i (1 + d_ij / 500 km)^(-0.6)                 (A_ii = Z_i)
    chi_ij = 0.01 (pop_j / mean pop) (1 + d_ij / 500 km)^(-1),  chi_ii = 1
    kappa_j = -0.2 log(Z_j / geometric mean Z)               transfer rates

with d_ij the great-circle distance between centres, and the Donald-Fukui-
Miyauchi Table 1 values gamma = 1, beta = 0.988, omega = 0.987, theta = 0.5,
sigma = 5, alpha = 0.04, a_low = -0.6, one income state.
"""

from __future__ import annotations

import numpy as np

from .params import Numerics, Params

# (postal code, latitude, longitude, population 2017 in thousands)
US_STATES = (
    ("AL", 32.8, -86.8, 4874), ("AZ", 34.3, -111.7, 7016), ("AR", 34.9, -92.4, 3004),
    ("CA", 37.2, -119.5, 39537), ("CO", 39.0, -105.5, 5607), ("CT", 41.6, -72.7, 3588),
    ("DE", 39.0, -75.5, 961), ("FL", 28.6, -82.4, 20984), ("GA", 32.7, -83.4, 10429),
    ("ID", 44.4, -114.6, 1717), ("IL", 40.0, -89.2, 12802), ("IN", 39.9, -86.3, 6666),
    ("IA", 42.1, -93.5, 3145), ("KS", 38.5, -98.4, 2913), ("KY", 37.5, -85.3, 4454),
    ("LA", 31.1, -92.0, 4684), ("ME", 45.4, -69.2, 1336), ("MD", 39.1, -76.8, 6052),
    ("MA", 42.3, -71.8, 6860), ("MI", 44.3, -85.4, 9962), ("MN", 46.3, -94.3, 5577),
    ("MS", 32.7, -89.7, 2984), ("MO", 38.4, -92.5, 6114), ("MT", 47.0, -109.6, 1050),
    ("NE", 41.5, -99.8, 1920), ("NV", 39.3, -116.6, 2998), ("NH", 43.7, -71.6, 1343),
    ("NJ", 40.2, -74.7, 9006), ("NM", 34.4, -106.1, 2088), ("NY", 42.9, -75.5, 19850),
    ("NC", 35.6, -79.4, 10273), ("ND", 47.5, -100.5, 755), ("OH", 40.3, -82.8, 11659),
    ("OK", 35.6, -97.5, 3931), ("OR", 43.9, -120.6, 4143), ("PA", 40.9, -77.8, 12806),
    ("RI", 41.7, -71.6, 1060), ("SC", 33.9, -80.9, 5025), ("SD", 44.4, -100.2, 870),
    ("TN", 35.9, -86.4, 6716), ("TX", 31.5, -99.3, 28305), ("UT", 39.3, -111.7, 3101),
    ("VT", 44.1, -72.7, 624), ("VA", 37.5, -78.9, 8470), ("WA", 47.4, -120.5, 7406),
    ("WV", 38.6, -80.6, 1816), ("WI", 44.6, -89.9, 5795), ("WY", 43.0, -107.6, 579),
)


def synthetic_params(codes: tuple[str, ...] | None = None, *, n_a: int = 200,
                     a_max: float = 50.0) -> tuple[Params, Numerics]:
    """Spatial Params and Numerics of the synthetic economy on ``codes`` (default: all 48)."""
    rows = [s for s in US_STATES if codes is None or s[0] in codes]
    lat, lon, pop = (np.array([r[k] for r in rows], dtype=float) for k in (1, 2, 3))
    rel = pop / pop.mean()
    friction = 1.0 + great_circle_km(lat, lon) / 500.0
    Z = rel**0.03
    A = Z[:, None] * friction**-0.6
    chi = 0.01 * rel[None, :] / friction
    np.fill_diagonal(chi, 1.0)
    kappa = -0.2 * np.log(Z / np.exp(np.mean(np.log(Z))))
    params = Params(gamma=1.0, beta=0.988, omega=0.987, e_grid=(1.0,), Pi=((1.0,),),
                    a_low=-0.6, chi=chi, theta=0.5, closure="spatial",
                    sigma_trade=5.0, A=A, alpha_agg=0.04, kappa_transfer=kappa)
    return params, Numerics(n_a=n_a, a_max=a_max)


def state_codes(codes: tuple[str, ...] | None = None) -> tuple[str, ...]:
    return tuple(s[0] for s in US_STATES if codes is None or s[0] in codes)


def state_locations(codes: tuple[str, ...] | None = None) -> dict[str, list[float]]:
    """Postal code -> [latitude, longitude] of the states' centres, in the synthetic
    data's order (a model config's ``locations``)."""
    return {s[0]: [s[1], s[2]] for s in US_STATES if codes is None or s[0] in codes}


def great_circle_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(J, J) haversine distances on a sphere of radius 6371 km."""
    phi, lam = np.radians(lat), np.radians(lon)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    h = np.sin(dphi / 2) ** 2 + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(dlam / 2) ** 2
    return 2.0 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
