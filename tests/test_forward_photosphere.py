"""Photospheres (empirical emulator, tabulated library, blackbody) and the Figure-3 plot."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from xpcvae import params
from xpcvae.cli import main
from xpcvae.forward import WAVELENGTH, BlackbodyPhotosphere, ForwardModel, TabulatedPhotosphere
from xpcvae.forward.emulator import PhotosphereEmulator, soft_clamp
from xpcvae.forward.photosphere import EmpiricalPhotosphere
from xpcvae.forward.stellar import blackbody_fraction, planck_surface_flux

SIGMA_SB = 5.670374419e-8


@pytest.fixture(scope="module")
def emulator():
    return PhotosphereEmulator.load()


def _bb_library(path, unit="W m-2 nm-1", teffs=np.arange(2500.0, 8001.0, 500.0), scale=1.0, drop=False):
    lam = np.linspace(250.0, 1200.0, 4000)
    labels, fluxes = [], []
    for t in teffs:
        for g in (2.0, 5.5):
            for m in (-1.0, 1.5):
                labels.append((t, g, m))
                fluxes.append(planck_surface_flux(lam, t) * scale)
    labels, fluxes = np.array(labels), np.array(fluxes)
    if drop:
        labels, fluxes = labels[1:], fluxes[1:]
    with h5py.File(path, "w") as h5:
        h5.create_dataset("wavelength", data=lam).attrs["unit"] = "nm"
        h5.create_dataset("labels", data=labels)
        h5.create_dataset("flux", data=fluxes).attrs["unit"] = unit
    return path


def test_emulator_file_is_small_and_documented(emulator):
    import os

    assert os.path.getsize(emulator.path) < 3e6
    assert "5 == 0" in emulator.meta["held_out"]
    assert emulator.meta["n_train_pass2"] > 10000


def test_emulator_smooth_and_sane_over_the_whole_box(emulator):
    # a fine Teff sweep at the edges of the box (where it extrapolates): finite, positive, no jumps
    teff = np.arange(3000.0, 7000.1, 10.0)
    for logg, mh in ((2.5, -0.5), (5.0, 1.0), (4.5, 0.0), (2.5, 1.0)):
        s = emulator.shape(teff, np.full_like(teff, logg), np.full_like(teff, mh))
        assert np.all(np.isfinite(s)) and np.all(s > 0)
        assert np.max(np.abs(s[1:] / s[:-1] - 1)) < 0.05
        assert s.max() < 20
    mh = np.arange(-0.5, 1.0001, 0.01)
    s = emulator.shape(np.full_like(mh, 3000.0), np.full_like(mh, 5.0), mh)
    assert np.max(np.abs(s[1:] / s[:-1] - 1)) < 0.02


def test_emulator_cooler_is_redder(emulator):
    teff = np.arange(3000.0, 7001.0, 250.0)
    s = emulator.shape(teff, np.full_like(teff, 4.5), np.zeros_like(teff))
    blue = s[:, (WAVELENGTH > 400) & (WAVELENGTH < 500)].mean(axis=1)
    red = s[:, (WAVELENGTH > 750) & (WAVELENGTH < 900)].mean(axis=1)
    assert np.all(np.diff(red / blue) < 0)


def test_soft_clamp():
    x = np.linspace(-5, 15, 401)
    y = soft_clamp(x, 0.0, 10.0, 1.0)
    np.testing.assert_array_equal(y[(x >= 0) & (x <= 10)], x[(x >= 0) & (x <= 10)])
    assert y.min() > -1.0 and y.max() < 11.0 and np.all(np.diff(y) > 0)


def test_empirical_absolute_scale():
    # the XP-range integral is sigma Teff^4 times the blackbody's XP-range fraction
    teff = np.array([3500.0, 5800.0])
    f = EmpiricalPhotosphere().surface_flux(teff, np.array([4.5, 4.4]), np.zeros(2))
    expected = SIGMA_SB * teff**4 * blackbody_fraction(teff, WAVELENGTH)
    np.testing.assert_allclose(np.trapezoid(f, WAVELENGTH, axis=1), expected, rtol=1e-10)


def test_emulator_residuals_on_held_out_stars(emulator):
    from xpcvae.calibrate.emulator_fit import residual_report

    rep = residual_report(emulator)
    assert rep["all"]["n"] > 2000
    assert rep["all"]["rms_chi"] < 3.0
    for row in rep["by_teff"]:
        if row["n"] > 50 and row["teff_bin"][0] >= 5000:
            assert row["640-1020 nm"] < 0.02 and row["400-640 nm"] < 0.03


def test_tabulated_matches_blackbody_and_interpolates(tmp_path):
    path = _bb_library(tmp_path / "lib.h5")
    tab = TabulatedPhotosphere(path)
    bb = BlackbodyPhotosphere()
    teff = np.array([3000.0, 4000.0, 6500.0])
    args = (teff, np.array([3.0, 4.0, 5.0]), np.array([0.0, 0.5, -0.5]))
    np.testing.assert_allclose(tab.surface_flux(*args), bb.surface_flux(*args), rtol=2e-4)  # on nodes
    # between nodes: linear in log flux, i.e. the geometric mean half-way between two Teff nodes
    mid = (np.array([3250.0, 5750.0]), np.array([4.0, 4.0]), np.array([0.0, 0.0]))
    lo = bb.surface_flux(np.array([3000.0, 5500.0]), *mid[1:])
    hi = bb.surface_flux(np.array([3500.0, 6000.0]), *mid[1:])
    np.testing.assert_allclose(tab.surface_flux(*mid), np.sqrt(lo * hi), rtol=2e-4)
    np.testing.assert_allclose(tab.surface_flux(*mid), bb.surface_flux(*mid), rtol=0.1)
    with pytest.raises(ValueError, match="outside the library"):
        tab.surface_flux(np.array([9000.0]), np.array([4.0]), np.array([0.0]))
    # a forward model on it equals the blackbody one
    theta = np.array([[4000.0, 4.0, 0.0, -8.0, 0.05, 0.7, 1.0]])
    f_tab, n_tab = ForwardModel(photosphere=f"tabulated:{path}").spectra(theta)
    f_bb, n_bb = ForwardModel(photosphere="blackbody").spectra(theta)
    np.testing.assert_allclose(f_tab, f_bb, rtol=2e-4)


def test_tabulated_units_and_relative(tmp_path):
    # erg s-1 cm-2 A-1 is 100 x W m-2 nm-1 numerically smaller: 1 erg/s/cm2/A = 0.01 W/m2/nm
    a = TabulatedPhotosphere(_bb_library(tmp_path / "w.h5"))
    b = TabulatedPhotosphere(_bb_library(tmp_path / "erg.h5", unit="erg s-1 cm-2 A-1", scale=100.0))
    c = TabulatedPhotosphere(_bb_library(tmp_path / "rel.h5", unit="relative", scale=1e-20))
    args = (np.array([4000.0]), np.array([4.0]), np.array([0.0]))
    np.testing.assert_allclose(b.surface_flux(*args), a.surface_flux(*args), rtol=1e-10)
    np.testing.assert_allclose(c.surface_flux(*args), a.surface_flux(*args), rtol=0.01)


def test_tabulated_bad_libraries(tmp_path):
    with pytest.raises(ValueError, match="regular grid"):
        TabulatedPhotosphere(_bb_library(tmp_path / "holes.h5", drop=True))
    with pytest.raises(ValueError, match="unknown flux unit"):
        TabulatedPhotosphere(_bb_library(tmp_path / "unit.h5", unit="Jy"))
    with h5py.File(tmp_path / "nolabels.h5", "w") as h5:
        h5["wavelength"] = np.linspace(250, 1200, 10)
        h5["flux"] = np.ones((2, 10))
    with pytest.raises(ValueError, match="missing dataset 'labels'"):
        TabulatedPhotosphere(tmp_path / "nolabels.h5")
    short = tmp_path / "short.h5"
    with h5py.File(short, "w") as h5:
        h5["wavelength"] = np.linspace(400, 900, 100)
        h5["labels"] = np.array([[4000.0, 4.0, 0.0]])
        h5["flux"] = np.ones((1, 100))
    with pytest.raises(ValueError, match="covers"):
        TabulatedPhotosphere(short)
    (tmp_path / "text.h5").write_text("x")
    with pytest.raises(ValueError, match="HDF5"):
        TabulatedPhotosphere(tmp_path / "text.h5")


def test_plot_grid_cli(tmp_path, capsys):
    out = tmp_path / "fig"
    assert main(["plot-grid", "--out", str(out), "--photosphere", "blackbody", "--reference", "teff=3500"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(["figure3.png"] + [f"figure3_{n}.png" for n in params.NAMES])
    for name in files:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot-grid", "--out", str(tmp_path / "x"), "--reference", "teff=99"]) == 2
    assert main(["plot-grid", "--out", str(tmp_path / "x"), "--reference", "colour=1"]) == 2
    assert not (tmp_path / "x").exists() or list((tmp_path / "x").iterdir()) == []


def test_emulator_save_round_trip(tmp_path):
    """Saved atomically, readable like any file the user writes, and it loads back (float32 weights)."""
    import os
    import stat

    emulator = EmpiricalPhotosphere().emulator
    path = tmp_path / "emu.npz"
    emulator.save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    again = PhotosphereEmulator.load(path)
    args = (np.array([3500.0, 5800.0]), np.array([4.5, 4.4]), np.array([0.0, -0.2]))
    np.testing.assert_allclose(again.log_shape(*args), emulator.log_shape(*args), rtol=0, atol=1e-5)
