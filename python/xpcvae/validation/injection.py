"""Injection of accretion into held-out real photospheres: which stars, which accretion, the veiled spectra.

The stars are real-data test stars (:func:`xpcvae.data.realstars.select_test_set`, the held-out
rule of :func:`xpcvae.data.library.is_test_star`): every cool one (APOGEE Teff < 4500 K, the
T Tauri regime) and an evenly spaced selection of the others. Each star is veiled twice
(:func:`xpcvae.simulate.veiling.veil`): once with (log Mdot, ff, M) drawn uniformly over the
prior, once at a point of a grid of strong accretors; the unveiled star is the third version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import params
from xpcvae.data.realstars import RealStars, label_theta, select_test_set
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import cached_model, model_spectra
from xpcvae.simulate.noise import NoiseModel
from xpcvae.simulate.residuals import fit_a0
from xpcvae.simulate.veiling import VeiledSpectra, veil
from xpcvae.validation.coolstars import COOL_TEFF_MAX
from xpcvae.validation.metrics import accretion_luminosity_ratio

#: stars below this APOGEE Teff (K) are all injected (the mission's T Tauri stars are 3000-4500 K)
COOL_TEFF = COOL_TEFF_MAX
#: the strong-accretor grid: log10(L_acc / L_*) x ff (every point is "visible" by validate-real's definition)
STRONG_LOG_LACC = (-1.0, -0.5, 0.0)
STRONG_FF = (0.03, 0.1, 0.25)
#: injected accretion counts as strong at L_acc/L_* >= this and ff >= STRONG_FF[0]
STRONG_LACC_MIN = 0.1
#: the injection sets, in order
SETS = ("unveiled", "prior", "strong")


@dataclass
class InjectionSet:
    """The stars and their three versions: unveiled (the real spectra), veiled with prior draws,
    veiled at the strong grid; ``truth[set]`` the injected parameters (N, 7) (unveiled: ff = 0)."""

    stars: RealStars
    a0_fit: np.ndarray  # (N,) A0 fitted with the forward model at the labels (the injected A0)
    spectra: dict  # set name -> (flux (N, 343), flux_error (N, 343))
    truth: dict  # set name -> (N, 7)
    veiled: dict  # set name -> VeiledSpectra (prior, strong)
    nominal_log_lacc: np.ndarray  # (N,) the strong grid's log L_acc/L_* of each star (before clipping Mdot)


def select_injection_stars(n_stars: int, lib=None) -> RealStars:
    """``n_stars`` held-out in-box test stars: all those cooler than :data:`COOL_TEFF` and an evenly
    spaced selection (in source_id order) of the others; if ``n_stars`` is below the number of
    cool stars, an evenly spaced selection of the cool stars only."""
    if n_stars < 1:
        raise ValueError(f"the number of injection stars must be >= 1, got {n_stars}")
    st = select_test_set(lib)
    cool = np.flatnonzero(st.teff < COOL_TEFF)
    rest = np.flatnonzero(st.teff >= COOL_TEFF)
    if n_stars <= cool.size:
        idx = cool[_evenly(cool.size, n_stars)]
    else:
        idx = np.concatenate([cool, rest[_evenly(rest.size, min(n_stars - cool.size, rest.size))]])
    return st.subset(np.sort(idx))


def _evenly(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, k).round().astype(int)) if k > 0 else np.zeros(0, int)


def star_theta(stars: RealStars, a0: np.ndarray, log_mdot, ff, mass) -> np.ndarray:
    """(N, 7): the stars' APOGEE Teff, log g, [M/H], the given accretion parameters and ``a0``."""
    th = label_theta(stars)
    i = params.INDEX
    th[:, i["log_mdot"]], th[:, i["ff"]], th[:, i["mass"]], th[:, i["a0"]] = log_mdot, ff, mass, a0
    return th


def prior_accretion(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log Mdot, ff, M) drawn uniformly over the prior box (``xpcvae.params``)."""
    out = []
    for name in ("log_mdot", "ff", "mass"):
        j = params.INDEX[name]
        out.append(rng.uniform(params.LOW[j], params.HIGH[j], n))
    return tuple(out)


def strong_grid_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(log L_acc/L_*, ff) of stars 0..n-1: star k gets point k mod 9 of the grid."""
    grid = [(la, f) for la in STRONG_LOG_LACC for f in STRONG_FF]
    k = np.arange(n) % len(grid)
    return np.array([grid[j][0] for j in k]), np.array([grid[j][1] for j in k])


def strong_accretion(stars: RealStars, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log Mdot, ff, M) of the strong-accretor grid: star k gets grid point k mod 9 of
    :data:`STRONG_LOG_LACC` x :data:`STRONG_FF`, M drawn over the prior, and the log Mdot that gives
    that L_acc/L_* at the star's APOGEE Teff and log g (clipped to the prior: for a few large hot
    stars the grid's L_acc/L_* needs more than the prior's highest Mdot; the truth is what was injected)."""
    n = len(stars)
    log_lacc, ff = strong_grid_points(n)
    j = params.INDEX["mass"]
    mass = rng.uniform(params.LOW[j], params.HIGH[j], n)
    unit = star_theta(stars, 0.0, 0.0, ff, mass)  # L_acc is proportional to Mdot: the ratio at Mdot = 1 Msun/yr
    log_mdot = log_lacc - np.log10(accretion_luminosity_ratio(unit))
    jm = params.INDEX["log_mdot"]
    return np.clip(log_mdot, params.LOW[jm], params.HIGH[jm]), ff, mass


def fitted_a0(stars: RealStars, fwd: ForwardConfig) -> np.ndarray:
    """A0 of each star: the forward model at its APOGEE Teff, log g, [M/H] fitted to its spectrum
    (:func:`xpcvae.simulate.residuals.fit_a0`, the A0 of validate-real's twins)."""
    theta = label_theta(stars)
    theta[:, params.INDEX["a0"]] = 0.0
    _, a0, _ = fit_a0(stars.flux, stars.flux_error, model_spectra(theta, fwd), fwd)
    return a0


def build_injection_set(stars: RealStars, fwd: ForwardConfig, seed: int = 42,
                        noise: NoiseModel | None = None) -> InjectionSet:
    """The three versions of ``stars``; all draws (accretion parameters, added noise) from ``seed``."""
    noise = NoiseModel.default() if noise is None else noise
    model = cached_model(fwd)
    a0 = fitted_a0(stars, fwd)
    rng_params = np.random.default_rng([seed, 0])
    drawn = {"prior": prior_accretion(len(stars), rng_params), "strong": strong_accretion(stars, rng_params)}
    spectra = {"unveiled": (stars.flux, stars.flux_error)}
    truth = {"unveiled": star_theta(stars, a0, params.LOW[params.INDEX["log_mdot"]], 0.0, 1.0)}
    veiled: dict[str, VeiledSpectra] = {}
    for k, name in enumerate(("prior", "strong"), start=1):
        th = star_theta(stars, a0, *drawn[name])
        v = veil(stars.flux, stars.flux_error, stars.g_mag, th, model, noise, rng=np.random.default_rng([seed, k]))
        veiled[name], spectra[name], truth[name] = v, (v.flux, v.flux_error), v.theta
    return InjectionSet(stars=stars, a0_fit=a0, spectra=spectra, truth=truth, veiled=veiled,
                        nominal_log_lacc=strong_grid_points(len(stars))[0])
