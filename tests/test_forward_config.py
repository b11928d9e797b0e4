"""The forward-model settings (xpcvae.forward.config): one spelling, written once, read back
from grids and bundles of this and of earlier versions."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xpcvae import params
from xpcvae.forward import ForwardConfig, ForwardModel, cached_model, model_spectra
from xpcvae.forward.instrument import WAVELENGTH

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MANIFEST = ROOT / "export" / "default" / "manifest.json"
OTHER = ForwardConfig(photosphere="blackbody", extinction_curve="G23", rv=3.3, r_in=4.0, slab_temperature=9000.0,
                      slab_fraction=0.2, fwhm_bp=1.5, fwhm_rp=2.1)


def test_keys_are_the_model_keywords():
    """One spelling: the dict keys are ForwardModel's keyword arguments, with the same defaults."""
    sig = inspect.signature(ForwardModel.__init__)
    cfg = ForwardConfig()
    assert list(cfg.to_dict()) == [n for n in sig.parameters if n != "self"]
    assert {n: p.default for n, p in sig.parameters.items() if n != "self"} == cfg.to_dict()


def test_round_trip_through_json():
    d = json.loads(json.dumps(OTHER.to_dict()))
    assert ForwardConfig.from_dict(d) == OTHER
    assert ForwardConfig.from_dict(json.dumps(d)) == OTHER


def test_model_rebuilt_from_its_config_is_the_same_model():
    fm = ForwardModel(**OTHER.to_dict())
    assert fm.config == OTHER
    again = ForwardModel.from_config(fm.config)
    theta = params.from_unit(np.random.default_rng(3).random((20, params.NDIM)))
    assert np.array_equal(fm.spectra(theta)[0], again.spectra(theta)[0])


def test_model_spectra_uses_one_model_per_config():
    cfg = ForwardConfig(photosphere="blackbody")
    assert cached_model(cfg) is cached_model(ForwardConfig(photosphere="blackbody"))
    theta = params.from_unit(np.random.default_rng(4).random((5, params.NDIM)))
    assert np.array_equal(model_spectra(theta, cfg), ForwardModel(photosphere="blackbody").spectra(theta)[0])
    with pytest.raises(TypeError, match="ForwardConfig"):
        model_spectra(theta, {"photosphere": "blackbody"})
    with pytest.raises(ValueError, match="wavelength grid differs"):
        model_spectra(theta, cfg, WAVELENGTH + 1.0)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("rv"), "missing key.*rv"),
    (lambda d: d.__setitem__("colour", 1), "unknown key.*colour"),
    (lambda d: d.__setitem__("r_in", "5"), "r_in must be a finite number"),
    (lambda d: d.__setitem__("r_in", True), "r_in must be a finite number"),
    (lambda d: d.__setitem__("photosphere", ""), "photosphere must be a non-empty string"),
])
def test_malformed_settings_name_the_key(edit, message):
    d = ForwardConfig().to_dict()
    edit(d)
    with pytest.raises(ValueError, match=message):
        ForwardConfig.from_dict(d)


def test_bad_json_in_the_grid_attributes_is_an_error():
    with pytest.raises(ValueError, match="grid attributes: forward_config: not valid JSON"):
        ForwardConfig.from_grid_attrs({"forward_config": "{oops"})
    with pytest.raises(ValueError, match="manifest provenance.grid_attrs: r_in must be a number"):
        ForwardConfig.from_manifest({"provenance": {"grid_attrs": {"r_in": "far"}}})


def test_the_shipped_bundle_reads_as_before():
    """export/default predates forward_config: its grid attributes give the settings it was trained with."""
    manifest = json.loads(SHIPPED_MANIFEST.read_text())
    assert "forward_config" not in manifest
    attrs = manifest["provenance"]["grid_attrs"]
    cfg = ForwardConfig.from_manifest(manifest)
    assert cfg == ForwardConfig(photosphere=attrs["photosphere"], extinction_curve=attrs["extinction_curve"],
                                rv=attrs["extinction_rv"], r_in=attrs["r_in"])
    assert cfg == ForwardConfig()  # the grid was made with the defaults


def test_legacy_spellings():
    """Grids before forward_config: root attributes, overridden by the ForwardModel.describe() of that version."""
    attrs = {"photosphere": "empirical", "extinction_curve": "F99", "extinction_rv": 3.1, "r_in": 5.0,
             "forward_model": {"photosphere": {"name": "blackbody"}, "photosphere_spec": "blackbody",
                               "extinction": {"curve": "G23", "rv": 3.3}, "r_in_stellar_radii": 4.0,
                               "accretion": {"slab_temperature_K": 9000.0, "slab_fraction_thin": 0.2},
                               "instrument": {"fwhm_bp_samples": 1.5, "fwhm_rp_samples": 2.1}}}
    assert ForwardConfig.from_manifest({"provenance": {"grid_attrs": attrs}}) == OTHER
    assert ForwardConfig.from_grid_attrs(json.dumps(attrs)) == OTHER
    assert ForwardConfig.from_manifest({"provenance": {}}) == ForwardConfig()
    assert ForwardConfig.from_manifest({}) == ForwardConfig()


def test_the_new_key_wins_over_the_legacy_ones():
    attrs = {"photosphere": "empirical", "extinction_curve": "F99", "forward_config": OTHER.to_dict()}
    assert ForwardConfig.from_grid_attrs(attrs) == OTHER
    manifest = {"forward_config": ForwardConfig().to_dict(), "provenance": {"grid_attrs": attrs}}
    assert ForwardConfig.from_manifest(manifest) == ForwardConfig()


def test_a_generated_grid_records_its_settings(tmp_path):
    from xpcvae.data.gridfile import read_grid
    from xpcvae.simulate.gridgen import make_grid

    path, attrs = make_grid(tmp_path / "g.h5", 8, seed=2, photosphere="blackbody", extinction_curve="G23", r_in=4.0,
                            workers=0, progress=False)
    want = ForwardConfig(photosphere="blackbody", extinction_curve="G23", r_in=4.0)
    assert attrs["forward_config"] == want.to_dict()
    grid = read_grid(path)
    assert ForwardConfig.from_grid_attrs(grid.attrs) == want
    assert np.allclose(grid.flux, model_spectra(grid.parameters, want), rtol=1e-6, atol=0)


def test_inference_imports_no_torch():
    """`xpcvae infer` and the sampler work without torch (and without matplotlib)."""
    code = ("import sys; import xpcvae.infer.batch, xpcvae.infer.sampler, xpcvae.bundle, xpcvae.forward.config, "
            "xpcvae.forward.gof; print(sorted(m for m in ('torch', 'matplotlib', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "python")})
    assert out.stdout.strip() == "[]"


def test_fields_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ForwardConfig().rv = 3.0
