"""Physics and instrument tests of the forward model, each against an independently
derived expectation (astropy constants/units, the GaiaXPy tables read directly)."""

from __future__ import annotations

import json
import os

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest

from xpcvae import params
from xpcvae.forward import (
    FINE_WAVELENGTH,
    N_WAVE,
    WAVELENGTH,
    AccretionShock,
    BlackbodyPhotosphere,
    ExtinctionCurve,
    ForwardModel,
    accretion_energy_flux,
    accretion_luminosity,
    spot_temperature,
    stellar_radius,
)
from xpcvae.forward.instrument import dispersion_table, gaiaxpy_config_dir

REF = np.array([4000.0, 4.0, 0.0, -8.0, 0.05, 0.7, 1.0])


@pytest.fixture(scope="module")
def bb_model():
    return ForwardModel(photosphere="blackbody")


@pytest.fixture(scope="module")
def emp_model():
    return ForwardModel()


def theta_with(**kw):
    t = REF.copy()
    for k, v in kw.items():
        t[params.INDEX[k]] = v
    return t


# --- contract ---------------------------------------------------------------------------------
def test_wavelength_is_gaiaxpy_default_sampling():
    assert WAVELENGTH.dtype == np.float64 and WAVELENGTH.shape == (343,) and N_WAVE == 343
    np.testing.assert_array_equal(WAVELENGTH, np.arange(336.0, 1020.1, 2.0))


def test_spectra_contract(emp_model):
    theta = np.array([REF, theta_with(teff=6500.0, a0=3.0)])
    flux, norm = emp_model.spectra(theta)
    assert flux.shape == (2, N_WAVE) and flux.dtype == np.float64 and norm.shape == (2,)
    np.testing.assert_allclose(flux.mean(axis=1), 1.0, rtol=1e-12)
    assert np.all(norm > 0) and np.all(flux > 0)
    # norm is the mean of the un-normalised, extinguished surface flux
    comp = emp_model.components(theta)
    np.testing.assert_allclose(norm, comp["observed"].mean(axis=1), rtol=1e-12)
    json.dumps(emp_model.describe())  # provenance is JSON-ready


# --- steps 1-4 ---------------------------------------------------------------------------------
def test_radius_of_the_sun():
    # R = sqrt(G M / g): 1 Msun at log g = 4.438 is the Sun
    expected = np.sqrt(const.G * const.M_sun / (10**4.438 * u.cm / u.s**2)).to(u.m).value
    r = stellar_radius(1.0, 4.438)
    assert r == pytest.approx(expected, rel=1e-12)
    assert r / const.R_sun.value == pytest.approx(1.0, abs=2e-3)


def test_accretion_luminosity_by_hand():
    # M = 0.5 Msun, R = 2 Rsun, Mdot = 1e-8 Msun/yr, R_in = 5 R: L = 0.8 G M Mdot / R = 0.0627 Lsun
    expected = (0.8 * const.G * 0.5 * u.M_sun * 1e-8 * u.M_sun / u.yr / (2 * u.R_sun)).to(u.W).value
    radius = 2 * const.R_sun.value
    l_acc = accretion_luminosity(0.5, radius, -8.0, r_in=5.0)
    assert l_acc == pytest.approx(expected, rel=1e-9)
    assert l_acc / const.L_sun.value == pytest.approx(0.0627, abs=5e-4)
    # energy flux on 1 % of the surface
    f = accretion_energy_flux(l_acc, radius, 0.01)
    assert f == pytest.approx(expected / (4 * np.pi * radius**2 * 0.01), rel=1e-12)
    with pytest.raises(ValueError):
        accretion_luminosity(0.5, radius, -8.0, r_in=1.0)


def test_spot_temperature_follows_energy_flux():
    sigma = const.sigma_sb.si.value
    for flux in (1e6, 1e8, 1e10):
        expected = (flux / sigma + 4000.0**4) ** 0.25
        assert spot_temperature(4000.0, flux) == pytest.approx(expected, rel=1e-12)
    # the literal science.md step 4 with no slab
    literal = AccretionShock(slab_fraction=0.0)
    assert literal.spot_temperature(4000.0, 1e8) == pytest.approx((1e8 / sigma + 4000.0**4) ** 0.25, rel=1e-12)
    # default: the slab takes 25 % of F when optically thin, less when thick; the spot gets the rest
    shock = AccretionShock()
    assert shock.slab_flux(1e3) == pytest.approx(0.25e3, rel=1e-3)
    assert 0 < shock.slab_flux(1e10) < 0.25e10
    f = np.array([1e3, 1e7, 1e9, 1e12])
    heat = shock.heating_flux(f)
    np.testing.assert_allclose(shock.spot_temperature(4000.0, f), (heat / sigma + 4000.0**4) ** 0.25, rtol=1e-12)
    # the spot gets hotter as the energy flux grows
    assert np.all(np.diff(shock.spot_temperature(4000.0, f)) > 0)


def test_slab_balmer_jump_matches_kramers_ratio():
    # optically thin hydrogen continuum at 1e4 K: the emissivity ratio across the Balmer edge is
    # [1 + sum_{n>=2} g_n] / [1 + sum_{n>=3} g_n], g_n = 2 chi/(n^3 kT) exp(chi/(n^2 kT)) (Kramers, Gaunt = 1)
    chi = (const.Ryd * const.h * const.c / (1 + const.m_e / const.m_p)).si.value
    kt = const.k_B.si.value * 1e4
    g = {n: 2 * chi / (n**3 * kt) * np.exp(chi / (n**2 * kt)) for n in range(2, 51)}
    expected = (1 + sum(g.values())) / (1 + sum(v for n, v in g.items() if n >= 3))
    edge = (const.h * const.c / (chi * u.J / 4)).to(u.nm).value
    shock = AccretionShock()
    thin = shock.slab_flux_fine(np.array([1e3]))[0]  # tau << 1
    lam = FINE_WAVELENGTH
    blue, red = np.interp(edge - 0.5, lam, thin), np.interp(edge + 0.5, lam, thin)
    # the 0.5 nm offsets change the ratio by exp(h c dlambda / (lambda^2 k T)) and lambda^-2 terms: < 1 %
    assert blue / red == pytest.approx(expected, rel=0.01)
    assert expected > 10  # a strong jump in the optically thin limit


# --- step 5 ------------------------------------------------------------------------------------
def test_ff_zero_is_the_pure_photosphere(bb_model):
    # ff = 0: no accretion signature whatever Mdot; blackbody photosphere through the instrument,
    # computed independently with astropy's Planck function
    from astropy.modeling.physical_models import BlackBody

    theta = np.array([theta_with(ff=0.0, log_mdot=m, a0=0.0) for m in (-11.0, -8.0, -4.52)])
    flux, _ = bb_model.spectra(theta)
    bb = BlackBody(temperature=4000 * u.K)
    b_lam = (np.pi * u.sr * bb(FINE_WAVELENGTH * u.nm)).to(
        u.W / u.m**2 / u.nm, equivalencies=u.spectral_density(FINE_WAVELENGTH * u.nm)).value
    expected = bb_model.instrument.matrix @ b_lam
    expected /= expected.mean()
    for row in flux:
        np.testing.assert_allclose(row, expected, rtol=1e-9)


def test_ff_zero_limit_is_continuous(emp_model):
    # at fixed Mdot a shrinking ff makes the spot hotter, moving its light out of the XP range
    # (optical flux ~ ff^(3/4)) and the slab saturates: the accretion signature vanishes continuously
    f0, _ = emp_model.spectra(theta_with(ff=0.0))
    diffs = [np.max(np.abs(emp_model.spectra(theta_with(ff=ff))[0] / f0 - 1)) for ff in (1e-3, 1e-6, 1e-9, 1e-12)]
    assert np.all(np.diff(diffs) < 0)
    assert diffs[-1] < 1e-3


def test_accretion_raises_blue_continuum_and_balmer_jump(emp_model):
    blue = (WAVELENGTH >= 336) & (WAVELENGTH <= 360)
    red = (WAVELENGTH >= 800) & (WAVELENGTH <= 900)
    ratios = []
    for mdot in (-10.0, -9.0, -8.0, -7.0):
        f, _ = emp_model.spectra(theta_with(log_mdot=mdot, a0=0.0))
        ratios.append(f[0, blue].mean() / f[0, red].mean())
    assert np.all(np.diff(ratios) > 0)
    assert ratios[-1] > 3 * ratios[0]
    # Balmer jump: the accretion component alone is brighter just blueward of 364.7 nm than just redward
    comp = emp_model.components(theta_with(log_mdot=-8.0))
    acc = comp["accretion"][0]
    at = lambda lam: acc[np.argmin(np.abs(WAVELENGTH - lam))]  # noqa: E731
    assert at(352.0) > 1.3 * at(380.0)
    # and the blue/Balmer excess of the total spectrum over the photosphere is largest below the edge
    excess = comp["mixed"][0] / ((1 - 0.05) * comp["photosphere"][0])
    assert excess[WAVELENGTH < 364].mean() > excess[(WAVELENGTH > 380) & (WAVELENGTH < 420)].mean()


# --- step 6 ------------------------------------------------------------------------------------
def test_extinction_normalised_at_541nm_and_dims_blue_more():
    from dust_extinction.parameter_averages import F99

    curve = ExtinctionCurve("F99", 3.1)
    assert curve.relative(np.array([541.4]))[0] == pytest.approx(1.0, rel=1e-12)
    lam = np.array([400.0, 900.0])
    direct = F99(Rv=3.1)(lam * u.nm) / F99(Rv=3.1)(541.4 * u.nm)
    np.testing.assert_allclose(curve.relative(lam), direct, rtol=1e-12)
    att = curve.attenuation([2.0], lam)[0]
    assert att[0] < att[1] < 1.0
    # A0 / A_K of F99 at R_V = 3.1 is 8-9 (science.md)
    assert 8.0 < curve.a0_per_ak() < 9.5
    with pytest.raises(ValueError, match="unknown extinction curve"):
        ExtinctionCurve("XYZ")


def test_larger_a0_dims_blue_more_than_red(emp_model):
    c0 = emp_model.components(theta_with(a0=0.0))["observed"][0]
    c3 = emp_model.components(theta_with(a0=3.0))["observed"][0]
    ratio = c3 / c0
    from dust_extinction.parameter_averages import F99

    k = F99(Rv=3.1)(WAVELENGTH * u.nm) / F99(Rv=3.1)(541.4 * u.nm)
    np.testing.assert_allclose(ratio, 10 ** (-0.4 * 3.0 * k), rtol=1e-10)
    assert np.all(np.diff(ratio) > 0)  # monotonically less attenuation towards the red
    f0, _ = emp_model.spectra(theta_with(a0=0.0))
    f3, _ = emp_model.spectra(theta_with(a0=3.0))
    assert f3[0, 0] < f0[0, 0] and f3[0, -1] > f0[0, -1]  # normalised: redder


# --- step 7 ------------------------------------------------------------------------------------
def test_instrument_keeps_smooth_seds_smooth(bb_model):
    inst = bb_model.instrument
    np.testing.assert_allclose(inst.apply(np.ones(FINE_WAVELENGTH.size)), 1.0, atol=1e-12)
    sed = BlackbodyPhotosphere().surface_flux([5800.0], [4.4], [0.0], inst)[0]
    from xpcvae.forward.stellar import planck_surface_flux

    direct = planck_surface_flux(WAVELENGTH, 5800.0)
    assert np.max(np.abs(sed / direct - 1)) < 0.01
    # no ripples: second differences of the XP spectrum tiny compared to the flux
    assert np.max(np.abs(np.diff(sed, 2))) / sed.mean() < 1e-3


@pytest.mark.parametrize("centre,band", [(400.0, "bp"), (500.0, "bp"), (800.0, "rp"), (950.0, "rp")])
def test_narrow_feature_broadened_to_documented_width(bb_model, centre, band):
    inst = bb_model.instrument
    line_fwhm = 0.5
    s = line_fwhm / 2.3548
    sed = np.exp(-0.5 * ((FINE_WAVELENGTH - centre) / s) ** 2)
    out = inst.apply(sed)
    win = np.abs(WAVELENGTH - centre) < 4 * inst.fwhm_nm(centre)
    prof, lam = out[win], WAVELENGTH[win]
    mu = np.sum(prof * lam) / prof.sum()
    measured = 2.3548 * np.sqrt(np.sum(prof * (lam - mu) ** 2) / prof.sum())
    # expected from the dispersion table itself (finite differences, independent of the spline)
    _, wl, bp, rp = dispersion_table()
    pwl = bp if band == "bp" else rp
    ok = np.isfinite(pwl)
    dpdl = np.interp(centre, wl[ok], np.gradient(pwl[ok], wl[ok]))
    fwhm_px = inst.fwhm_bp if band == "bp" else inst.fwhm_rp
    expected = np.hypot(fwhm_px / abs(dpdl), line_fwhm)
    assert measured == pytest.approx(expected, rel=0.06)
    assert mu == pytest.approx(centre, abs=0.1 * expected)


def test_merge_weights_are_gaiaxpy_s():
    import warnings

    import matplotlib

    with matplotlib.rc_context(), warnings.catch_warnings():  # GaiaXPy changes rcParams on import
        warnings.simplefilter("ignore")
        from gaiaxpy.core.config import load_xpmerge_from_xml

        grid, merge = load_xpmerge_from_xml()
    from xpcvae.forward.instrument import merge_weights

    bp, rp = merge_weights()
    np.testing.assert_allclose(grid, WAVELENGTH)
    np.testing.assert_array_equal(bp, merge["bp"])
    np.testing.assert_array_equal(rp, merge["rp"])
    assert os.path.isdir(gaiaxpy_config_dir())


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "theta,match",
    [
        (theta_with(teff=2500.0), "teff"),
        (theta_with(a0=-0.1), "a0"),
        (theta_with(ff=0.31), "ff"),
        (theta_with(mass=np.nan), "mass"),
        (theta_with(log_mdot=np.inf), "log_mdot"),
        (np.zeros((2, 6)), "shape"),
        (np.zeros((2, 7, 1)), "shape"),
    ],
)
def test_bad_parameters_raise(bb_model, theta, match):
    with pytest.raises(params.ParameterError, match=match):
        bb_model.spectra(theta)


def test_bad_model_options():
    with pytest.raises(ValueError, match="unknown photosphere"):
        ForwardModel(photosphere="phoenix")
    with pytest.raises(ValueError, match="tabulated:PATH"):
        ForwardModel(photosphere="tabulated")
    with pytest.raises(FileNotFoundError):
        ForwardModel(photosphere="tabulated:/nonexistent/library.h5")
    with pytest.raises(ValueError, match="r_in"):
        ForwardModel(photosphere="blackbody", r_in=0.5)
    with pytest.raises(ValueError, match="R_V"):
        ForwardModel(photosphere="blackbody", rv=10.0)
