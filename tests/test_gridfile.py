"""HDF5 grid files: round trip, validation of bad files, atomic writes, determinism and the CLI."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from xpcvae import params
from xpcvae.cli import main
from xpcvae.forward import WAVELENGTH
from xpcvae.simulate.gridgen import draw_parameters, generate
from xpcvae.data.gridfile import GridError, read_grid, write_grid


def _arrays(n=5, seed=0):
    rng = np.random.default_rng(seed)
    theta = params.from_unit(rng.random((n, 7)))
    flux = rng.uniform(0.5, 1.5, (n, 343))
    flux /= flux.mean(axis=1, keepdims=True)
    norm = rng.uniform(1.0, 10.0, n)
    return theta, flux, norm


def _no_leftovers(directory):
    return [p for p in os.listdir(directory) if p.startswith(".")] == []


def test_round_trip(tmp_path):
    theta, flux, norm = _arrays()
    path = write_grid(tmp_path / "g.h5", theta, WAVELENGTH, flux, norm,
                      {"seed": 3, "photosphere": "blackbody", "forward_model": {"a": [1, 2]}})
    g = read_grid(path)
    np.testing.assert_array_equal(g.parameters, theta)
    assert g.parameters.dtype == np.float64
    assert g.flux.dtype == np.float32 and g.flux.shape == (5, 343)
    np.testing.assert_allclose(g.flux, flux, rtol=1e-6)
    np.testing.assert_array_equal(g.norm, norm)
    np.testing.assert_array_equal(g.wavelength, WAVELENGTH)
    assert g.attrs["seed"] == 3 and g.attrs["photosphere"] == "blackbody"
    assert g.attrs["forward_model"] == {"a": [1, 2]}
    assert g.attrs["format"] == "xpcvae-grid" and g.attrs["n_spectra"] == 5
    for key in ("package_version", "git_revision", "created"):
        assert key in g.attrs
    with h5py.File(path) as h5:
        assert json.loads(h5["parameters"].attrs["names"]) == list(params.NAMES)
        assert json.loads(h5["parameters"].attrs["units"])[0] == "K"
        assert h5["flux"].dtype == np.float32 and h5["flux"].compression == "gzip"
        assert h5["flux"].chunks is not None
    assert _no_leftovers(tmp_path)


def test_write_rejects_bad_arrays_and_leaves_nothing(tmp_path):
    theta, flux, norm = _arrays()
    bad_flux = flux.copy()
    bad_flux[2, 5] = np.nan
    cases = [
        ((theta[:, :6], WAVELENGTH, flux, norm), "shape"),
        ((theta, WAVELENGTH[:-1], flux, norm), "wavelength"),
        ((theta, WAVELENGTH, flux[:, :300], norm), "flux"),
        ((theta, WAVELENGTH, bad_flux, norm), "row 2"),
        ((theta, WAVELENGTH, flux, -norm), "norm"),
        ((theta * np.array([1, 1, 1, 1, 1, 1, 100.0]), WAVELENGTH, flux, norm), "a0"),
    ]
    for args, match in cases:
        with pytest.raises(GridError, match=match):
            write_grid(tmp_path / "bad.h5", *args)
    assert os.listdir(tmp_path) == []


def _write_raw(path, **overrides):
    theta, flux, norm = _arrays()
    data = {"parameters": theta, "wavelength": WAVELENGTH, "flux": flux.astype(np.float32), "norm": norm}
    names = overrides.pop("names", list(params.NAMES))
    data.update(overrides)
    with h5py.File(path, "w") as h5:
        for k, v in data.items():
            if v is not None:
                h5.create_dataset(k, data=v)
        if data.get("parameters") is not None and names is not None:
            h5["parameters"].attrs["names"] = json.dumps(names)
    return path


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"flux": None}, "missing dataset '/flux'"),
        ({"norm": None}, "missing dataset '/norm'"),
        ({"flux": np.ones((5, 300), np.float32)}, "/flux must have shape"),
        ({"parameters": np.ones((5, 6))}, "shape"),
        ({"norm": np.ones(4)}, "/norm must have shape"),
        ({"wavelength": WAVELENGTH + 1.0}, "wavelength"),
        ({"flux": np.where(np.arange(343) == 7, np.nan, 1.0).astype(np.float32)[None].repeat(5, 0)}, "NaN"),
        ({"names": ["teff", "logg", "feh", "log_mdot", "ff", "mass", "a0"]}, "parameter names"),
        ({"names": None}, "names"),
        ({"parameters": np.tile(np.array([8000.0, 4, 0, -8, 0.1, 1, 1]), (5, 1))}, "teff"),
        ({"norm": np.zeros(5)}, "norm"),
    ],
)
def test_read_rejects_malformed_grids(tmp_path, overrides, match):
    path = _write_raw(tmp_path / "g.h5", **overrides)
    with pytest.raises(GridError, match=match):
        read_grid(path)


def test_read_missing_and_non_hdf5(tmp_path):
    with pytest.raises(GridError, match="does not exist"):
        read_grid(tmp_path / "nope.h5")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(GridError, match="not a readable HDF5"):
        read_grid(junk)
    assert issubclass(GridError, ValueError)


def test_user_grid_is_renormalised(tmp_path):
    theta, flux, norm = _arrays()
    path = _write_raw(tmp_path / "user.h5", flux=(3.0 * flux).astype(np.float32))
    g = read_grid(path)
    np.testing.assert_allclose(g.flux.mean(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(g.norm, 3.0 * norm, rtol=1e-5)
    assert g.attrs["renormalised_on_read"] is True


def test_parameter_draws_fill_the_box_deterministically():
    a = draw_parameters(4096, seed=11)
    b = draw_parameters(4096, seed=11)
    c = draw_parameters(4096, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    params.validate(a)
    u = params.to_unit(a)
    # space filling: every parameter's 16 equal bins each hold 1/16 of the points (+-1 %)
    for j in range(7):
        counts = np.histogram(u[:, j], bins=16, range=(0, 1))[0]
        assert np.all(np.abs(counts - 256) <= 3)


def test_generation_is_deterministic_and_worker_independent(tmp_path):
    t1, f1, n1, _ = generate(600, seed=5, photosphere="blackbody", workers=1, chunk=200, progress=False)
    t2, f2, n2, _ = generate(600, seed=5, photosphere="blackbody", workers=2, chunk=200, progress=False)
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(n1, n2)
    t3, f3, _, _ = generate(600, seed=5, photosphere="blackbody", workers=0, chunk=200, progress=False)
    np.testing.assert_array_equal(t1, t3)
    np.testing.assert_allclose(f1, f3, rtol=1e-6)


def test_cli_grid_inspect_round_trip(tmp_path, capsys):
    out = tmp_path / "grid.h5"
    rc = main(["grid", "--n", "300", "--out", str(out), "--seed", "4", "--photosphere", "blackbody",
               "--workers", "0", "--no-progress"])
    assert rc == 0 and out.exists()
    g = read_grid(out)
    assert len(g) == 300 and g.attrs["seed"] == 4 and g.attrs["photosphere"] == "blackbody"
    assert g.attrs["extinction_curve"] == "F99"
    assert g.attrs["forward_model"]["instrument"]["fwhm_bp_samples"] == 1.4
    np.testing.assert_allclose(g.flux.mean(axis=1), 1.0, rtol=1e-5)
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "spectra: 300" in text and "NaN/inf spectra: 0" in text and "photosphere: blackbody" in text
    assert main(["inspect", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_spectra"] == 300


def test_cli_bad_input_exits_nonzero_without_output(tmp_path, capsys):
    out = tmp_path / "g.h5"
    assert main(["grid", "--n", "10", "--out", str(out), "--photosphere", "phoenix", "--no-progress"]) == 2
    assert "unknown photosphere" in capsys.readouterr().err
    assert main(["grid", "--n", "10", "--out", str(out), "--photosphere", "tabulated:/no/such.h5",
                 "--no-progress"]) == 2
    assert main(["grid", "--n", "10", "--out", str(tmp_path), "--photosphere", "blackbody", "--no-progress"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["grid", "--n", "0", "--out", str(out)])
    assert exc.value.code == 2
    assert os.listdir(tmp_path) == []
    assert main(["inspect", str(tmp_path / "missing.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = _write_raw(tmp_path / "bad.h5", flux=None)
    assert main(["inspect", str(bad)]) == 2
    assert "missing dataset" in capsys.readouterr().err


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    import xpcvae.data.gridfile as gridfile

    def boom(path):  # fails after the data are written, before the rename
        assert os.path.getsize(path) > 0
        raise KeyboardInterrupt

    monkeypatch.setattr(gridfile, "make_readable", boom)
    theta, flux, norm = _arrays()
    with pytest.raises(KeyboardInterrupt):
        write_grid(tmp_path / "g.h5", theta, WAVELENGTH, flux, norm)
    assert os.listdir(tmp_path) == []
