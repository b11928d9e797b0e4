"""The forward model as an ONNX graph (bundle role ``forward_model``) and the bundle's gof settings.

ONNX Runtime on the exported graph against :meth:`xpcvae.forward.ForwardModel.spectra` for
both exportable photospheres, over random in-box parameters, every corner and face of the
box, ff = 0 and tiny ff, A0 = 10; the role in the tiny test bundle and the shipped one;
bundles without it, with a corrupt one; the settings of gof_chi2 read from the manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xpcvae import params
from xpcvae.bundle import BundleError, ModelBundle, onnx_session, sha256_of, write_manifest
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.gof import GofSettings
from xpcvae.forward.instrument import N_WAVE
from xpcvae.forward.model import model_spectra

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "export" / "default"
FF, MDOT, A0 = params.INDEX["ff"], params.INDEX["log_mdot"], params.INDEX["a0"]


@pytest.fixture(scope="module", params=["empirical", "blackbody"])
def graph(request, tmp_path_factory):
    from xpcvae.export.forward_graph import export_forward_graph, forward_model_for

    cfg = ForwardConfig(photosphere=request.param)
    path = tmp_path_factory.mktemp("fwd") / f"{request.param}.onnx"
    section = export_forward_graph(cfg, path)
    return section, onnx_session(path), forward_model_for(cfg)


def test_export_check_is_recorded(graph):
    from xpcvae.export.interface import FORWARD_TOLERANCE

    section, _, _ = graph
    c = section["export_check"]
    assert c["finite"] and c["max_rel_diff"] <= FORWARD_TOLERANCE and c["n"] > 4000 and c["n_ff0"] >= 100
    assert section["input"] == "params" and section["output"] == "flux"


def test_graph_matches_the_numpy_forward_model(graph):
    """<= 1e-6 relative on every sample: random in-box vectors, corners, faces, ff = 0, tiny ff, A0 = 10."""
    _, sess, fm = graph
    r = np.random.default_rng(123)
    theta = params.from_unit(r.random((1500, params.NDIM)))
    theta[:200, FF] = 0.0
    theta[200:300, FF] = 10.0 ** r.uniform(-14, -2, 100)
    theta[300:400, A0] = 10.0
    theta[400:450] = np.where(r.random((50, params.NDIM)) < 0.5, params.LOW, params.HIGH)  # corners
    want, _ = fm.spectra(theta)
    got = sess.run(["flux"], {"params": theta})[0]
    assert got.dtype == np.float64 and got.shape == (1500, N_WAVE)
    rel = np.abs(got - want) / want
    assert rel.max() <= 1e-6, rel.max()
    assert np.allclose(got.mean(axis=1), 1.0, rtol=0, atol=1e-12)


def test_ff_zero_is_exactly_the_photosphere(graph):
    """ff = 0: no NaN, no dependence on the accretion rate, the extinguished photosphere."""
    _, sess, fm = graph
    theta = params.from_unit(np.random.default_rng(4).random((50, params.NDIM)))
    theta[:, FF] = 0.0
    lo, hi = theta.copy(), theta.copy()
    lo[:, MDOT], hi[:, MDOT] = params.LOW[MDOT], params.HIGH[MDOT]
    a, b = (sess.run(["flux"], {"params": t})[0] for t in (lo, hi))
    assert np.isfinite(a).all() and np.array_equal(a, b)
    comp = fm.components(theta)
    phot = comp["photosphere"] * comp["attenuation"]
    assert np.allclose(a, phot / phot.mean(axis=1, keepdims=True), rtol=1e-12, atol=0)


def test_rows_do_not_depend_on_the_batch(graph):
    _, sess, _ = graph
    theta = params.from_unit(np.random.default_rng(8).random((70, params.NDIM)))
    whole = sess.run(["flux"], {"params": theta})[0]
    for i in (0, 33, 69):
        one = sess.run(["flux"], {"params": theta[i:i + 1]})[0][0]
        assert np.allclose(one, whole[i], rtol=1e-13, atol=0)


def test_tabulated_photosphere_is_not_exportable(tmp_path, capsys):
    import torch

    from xpcvae.export.networks import export_model
    from xpcvae.export.forward_graph import NotExportable, forward_model_for
    from xpcvae.train.model import CVAE, CVAEConfig

    with pytest.raises(NotExportable, match="tabulated"):
        forward_model_for(ForwardConfig(photosphere="tabulated:/some/library.h5"))
    torch.manual_seed(0)
    cfg = CVAEConfig(mixture_components=2, trunk_widths=(16,), context_size=8, head_widths=(8,))
    prov = {"grid_attrs": {"photosphere": "tabulated:/some/library.h5"}}
    bundle, _ = export_model(CVAE(cfg).eval(), tmp_path / "b", provenance=prov)
    assert "no forward_model graph" in capsys.readouterr().err
    assert not bundle.has_role("forward_model") and "forward_model" not in bundle.manifest
    assert bundle.manifest["goodness_of_fit"]["dof"] == 342
    # the Python engine still computes gof_chi2 with the settings the manifest records
    assert ForwardConfig.from_manifest(bundle.manifest) == ForwardConfig(photosphere="tabulated:/some/library.h5")


# -- the role in bundles ---------------------------------------------------------------------------

def test_tiny_bundle_has_the_blackbody_forward_model(tiny_bundle):
    m = tiny_bundle.manifest
    assert m["files"]["forward_model"]["path"] == "forward_model.onnx"
    # the grid's settings, written once by the exporter in the one spelling
    assert m["forward_config"] == ForwardConfig(photosphere="blackbody").to_dict()
    assert m["goodness_of_fit"] == {**m["goodness_of_fit"], "systematic": 0.01, "threshold": 25.0, "dof": 342,
                                    "bound_fraction": 0.01}
    sess = tiny_bundle.forward_session()
    theta = params.from_unit(np.random.default_rng(1).random((40, params.NDIM)))
    want = model_spectra(theta, ForwardConfig.from_manifest(m))
    assert np.max(np.abs(sess.run(["flux"], {"params": theta})[0] / want - 1)) <= 1e-6


def test_shipped_bundle_has_the_empirical_forward_model():
    b = ModelBundle.load(DEFAULT_BUNDLE)
    assert b.has_role("forward_model")
    assert ForwardConfig.from_manifest(b.manifest).photosphere == "empirical"
    assert b.manifest["forward_model"]["export_check"]["max_rel_diff"] <= 1e-6
    assert b.path("forward_model").stat().st_size < 2_000_000
    sess = b.forward_session()
    theta = params.from_unit(np.random.default_rng(2).random((40, params.NDIM)))
    theta[:10, FF] = 0.0
    want = model_spectra(theta, ForwardConfig.from_manifest(b.manifest))
    assert np.max(np.abs(sess.run(["flux"], {"params": theta})[0] / want - 1)) <= 1e-6


def _copy(bundle_root, tmp_path) -> Path:
    dst = tmp_path / "b"
    shutil.copytree(bundle_root, dst)
    return dst


def _edit(d: Path, edit) -> None:
    m = json.loads((d / "manifest.json").read_text())
    edit(m)
    write_manifest(d, m)  # with its checksum file, as an exporter writes it


def test_bundle_without_the_role_still_loads_and_python_infers(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle.root, tmp_path)
    _edit(d, lambda m: (m["files"].pop("forward_model"), m.pop("forward_model")))
    (d / "forward_model.onnx").unlink()
    b = ModelBundle.load(d)
    assert not b.has_role("forward_model") and b.forward_session() is None


def test_corrupt_forward_model_is_a_clear_error(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle.root, tmp_path)
    p = d / "forward_model.onnx"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(BundleError, match="checksum mismatch for forward_model.onnx"):
        ModelBundle.load(d)
    _edit(d, lambda m: m["files"]["forward_model"].__setitem__("sha256", sha256_of(p)))
    with pytest.raises(BundleError, match="cannot load forward_model.onnx"):
        ModelBundle.load(d).forward_session()
    p.unlink()
    with pytest.raises(BundleError, match=r"forward_model.onnx \(forward_model\) is missing"):
        ModelBundle.load(d)
    # another graph in its place: its inputs are refused
    shutil.copy(d / "decoder_sample.onnx", p)
    _edit(d, lambda m: m["files"]["forward_model"].__setitem__("sha256", sha256_of(p)))
    with pytest.raises(ValueError, match="expected input 'params' double"):
        ModelBundle.load(d).forward_session()


def test_add_forward_model_leaves_the_networks_untouched(tiny_bundle, tmp_path):
    from xpcvae.cli import main

    d = _copy(tiny_bundle.root, tmp_path)
    # a bundle as exported before forward_config: the settings only in the grid's attributes
    _edit(d, lambda m: (m["files"].pop("forward_model"), m.pop("forward_model"), m.pop("goodness_of_fit"),
                        m.pop("forward_config")))
    (d / "forward_model.onnx").unlink()
    before = {r: sha256_of(d / f"{r}.onnx") for r in ("r1_encoder", "decoder_context", "decoder_sample")}
    assert main(["export-forward-model", "--bundle", str(d)]) == 0
    b = ModelBundle.load(d)
    assert {r: sha256_of(b.path(r)) for r in before} == before
    assert b.has_role("forward_model") and b.manifest["forward_config"] == tiny_bundle.manifest["forward_config"]
    assert b.manifest["goodness_of_fit"] == tiny_bundle.manifest["goodness_of_fit"]
    # the same graph as the export's (deterministic)
    assert b.manifest["files"]["forward_model"]["sha256"] == tiny_bundle.manifest["files"]["forward_model"]["sha256"]


@pytest.mark.parametrize("gof, message", [
    ({"dof": 0}, "goodness_of_fit.dof"),
    ({"dof": 2.5}, "goodness_of_fit.dof"),
    ({"threshold": -1}, "goodness_of_fit.threshold"),
    ({"systematic": "x"}, "goodness_of_fit.systematic"),
    ([1], "goodness_of_fit is not an object"),
])
def test_bad_gof_settings_are_refused(tiny_bundle, tmp_path, gof, message):
    d = _copy(tiny_bundle.root, tmp_path)
    _edit(d, lambda m: m.__setitem__("goodness_of_fit", gof))
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(d)


def test_gof_settings_come_from_the_manifest(tiny_bundle, tmp_path, noisy_test_spectra):
    from xpcvae.infer.batch import infer_csv
    from xpcvae.data.spectra_csv import read_summary_csv, write_spectra_csv

    assert tiny_bundle.gof_settings == GofSettings(systematic=0.01, threshold=25.0, dof=342, bound_fraction=0.01)
    d = _copy(tiny_bundle.root, tmp_path)
    _edit(d, lambda m: m.pop("goodness_of_fit"))
    assert ModelBundle.load(d).gof_settings == tiny_bundle.gof_settings  # the defaults
    _edit(d, lambda m: m.__setitem__("goodness_of_fit", {"threshold": 1e-9, "dof": 171}))
    b = ModelBundle.load(d)
    assert b.gof_settings == GofSettings(systematic=0.01, threshold=1e-9, dof=171, bound_fraction=0.01)
    f, e = noisy_test_spectra.flux[:3], noisy_test_spectra.sigma[:3]
    write_spectra_csv(tmp_path / "in.csv", ["a", "b", "c"], f, e)
    infer_csv(tiny_bundle.root, tmp_path / "in.csv", tmp_path / "ref.csv", n_samples=50, progress=False)
    infer_csv(d, tmp_path / "in.csv", tmp_path / "out.csv", n_samples=50, progress=False)
    for ref, row in zip(read_summary_csv(tmp_path / "ref.csv"), read_summary_csv(tmp_path / "out.csv")):
        assert float(row["gof_chi2"]) == pytest.approx(2 * float(ref["gof_chi2"]), rel=1e-12)  # 342 / 171
        assert row["ood_flag"] == "1" and row["ood_reason"].endswith("> 1e-09: the model does not fit this spectrum")
