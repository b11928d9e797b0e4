"""The per-spectrum graphs' dense layers with the weights as the left operand (xpcvae.export.graph_form):
written by the export, and by the in-place rewrite of an existing bundle, same weights and outputs."""

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from xpcvae.bundle import ModelBundle, onnx_session, sha256_of, write_manifest
from xpcvae.export.graph_form import PER_SPECTRUM_ROLES, rewrite_bundle, weights_as_left_operand
from xpcvae.export.interface import GRAPH_NAMES
from xpcvae.infer.sampler import PosteriorSampler

ROOT = Path(__file__).resolve().parents[1]


def _torch_form_graph(tiny_run, role: str, spectra, path: Path) -> None:
    """The graph of ``role`` as ``torch.onnx.export`` writes it (Gemm(x, W, b, transB=1)), unrewritten."""
    import torch

    from xpcvae.export.networks import GRAPHS, _export_graph
    from xpcvae.train.run import load_run_model

    model, _ = load_run_model(tiny_run)
    cls, in_names, out_names = GRAPHS[role]
    inputs = tuple(torch.as_tensor(a[:16], dtype=torch.float32) for a in spectra)
    _export_graph(cls(model.eval()).eval(), inputs, in_names, out_names, path)


def _dense_layers(model: onnx.ModelProto) -> list[tuple[str, int]]:
    """(op, position of the initializer operand) of each Gemm/MatMul whose operand is a 2-D initializer."""
    inits = {i.name: i for i in model.graph.initializer if len(i.dims) == 2}
    return [(n.op_type, next(k for k, x in enumerate(n.input) if x in inits)) for n in model.graph.node
            if n.op_type in ("Gemm", "MatMul") and any(x in inits for x in n.input)]


def _outputs(path: Path, role: str, flux, sigma):
    s = onnx_session(path)
    feed = dict(zip(GRAPH_NAMES[role][0], (flux.astype(np.float32), sigma.astype(np.float32))))
    return s.run(None, feed)


def test_the_export_writes_the_per_spectrum_graphs_with_weights_left(tiny_bundle):
    for role in PER_SPECTRUM_ROLES:
        layers = _dense_layers(onnx.load(str(tiny_bundle.path(role))))
        assert layers and all(layer == ("Gemm", 0) for layer in layers), (role, layers)
    # the per-draw float32 graph keeps torch's form (ONNX Runtime prepacks float32 weights)
    assert all(k == 1 for _, k in _dense_layers(onnx.load(str(tiny_bundle.path("decoder_sample")))))


def test_the_rewrite_keeps_weights_and_outputs(tiny_run, noisy_test_spectra, tmp_path):
    flux, sigma = noisy_test_spectra.flux, noisy_test_spectra.sigma
    for role in PER_SPECTRUM_ROLES:
        before = tmp_path / f"{role}.onnx"
        _torch_form_graph(tiny_run, role, (flux, sigma), before)
        original = onnx.load(str(before))
        rewritten = onnx.load(str(before))
        n_layers = len(_dense_layers(original))
        assert weights_as_left_operand(rewritten) == n_layers > 0
        assert weights_as_left_operand(rewritten) == 0  # nothing left to rewrite
        onnx.checker.check_model(rewritten, full_check=True)
        after = tmp_path / f"{role}.rewritten.onnx"
        onnx.save(rewritten, str(after))
        old = {i.name: numpy_helper.to_array(i) for i in original.graph.initializer}
        new = {i.name: numpy_helper.to_array(i) for i in rewritten.graph.initializer}
        for name, value in old.items():  # every weight as it was; biases as columns
            got = new[name] if name in new else new[f"{name}_column"].ravel()
            assert got.dtype == value.dtype and np.array_equal(got, value), name
        got, want = _outputs(after, role, flux, sigma), _outputs(before, role, flux, sigma)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            assert np.max(np.abs(g - w)) <= 1e-6 * max(1.0, float(np.max(np.abs(w))))
        # a spectrum's outputs alone are those it gets in the batch
        for i in range(5):
            single = _outputs(after, role, flux[i:i + 1], sigma[i:i + 1])
            assert all(np.array_equal(s[0], g[i]) for s, g in zip(single, got))


def _torch_form_bundle(tiny_bundle, tiny_run, spectra, d: Path) -> None:
    """``d``: a copy of the tiny bundle whose per-spectrum graphs are in torch's form, checksums updated."""
    shutil.copytree(tiny_bundle.root, d)
    manifest = json.loads((d / "manifest.json").read_text())
    for role in PER_SPECTRUM_ROLES:
        _torch_form_graph(tiny_run, role, spectra, d / manifest["files"][role]["path"])
        manifest["files"][role]["sha256"] = sha256_of(d / manifest["files"][role]["path"])
    write_manifest(d, manifest)


def test_rewrite_bundle_in_place(tiny_bundle, tiny_run, noisy_test_spectra, tmp_path, capsys):
    from xpcvae.export.graph_form import main

    flux, sigma = noisy_test_spectra.flux, noisy_test_spectra.sigma
    d = tmp_path / "old-form"
    _torch_form_bundle(tiny_bundle, tiny_run, (flux, sigma), d)
    before = ModelBundle.load(d)
    draws_before = PosteriorSampler(before).sample(flux[:4], sigma[:4], 300, seed=3, source_ids=list("abcd"))
    untouched = {p.name: p.read_bytes() for p in d.iterdir() if p.name.endswith(".onnx")
                 and p.stem not in PER_SPECTRUM_ROLES}
    assert main([str(d)]) == 0
    out = capsys.readouterr().out
    assert all(f"{role}: " in out and "layers rewritten" in out for role in PER_SPECTRUM_ROLES)
    after = ModelBundle.load(d)  # checksums of the new graphs in the manifest
    record = after.manifest["provenance"]["graph_form"]
    for role in PER_SPECTRUM_ROLES:
        assert record["graphs"][role]["sha256_before"] == before.manifest["files"][role]["sha256"]
        assert record["graphs"][role]["sha256_after"] == sha256_of(after.path(role))
        assert record["graphs"][role]["max_abs_diff"] <= 1e-5
        assert all(layer == ("Gemm", 0) for layer in _dense_layers(onnx.load(str(after.path(role)))))
    assert {p: (d / p).read_bytes() for p in untouched} == untouched
    draws_after = PosteriorSampler(after).sample(flux[:4], sigma[:4], 300, seed=3, source_ids=list("abcd"))
    np.testing.assert_allclose(draws_after, draws_before, rtol=0, atol=1e-5)
    # a second run has nothing to do and changes nothing
    manifest = (d / "manifest.json").read_bytes()
    assert main([str(d)]) == 0
    assert "already have their weights as the left operand" in capsys.readouterr().out
    assert (d / "manifest.json").read_bytes() == manifest


def test_the_shipped_bundle_is_in_the_fast_form_and_records_the_rewrite():
    bundle = ModelBundle.load(ROOT / "export" / "default")
    record = bundle.manifest["provenance"]["graph_form"]
    for role in PER_SPECTRUM_ROLES:
        layers = _dense_layers(onnx.load(str(bundle.path(role))))
        assert layers and all(layer == ("Gemm", 0) for layer in layers)
        assert record["graphs"][role]["sha256_after"] == bundle.manifest["files"][role]["sha256"]
        assert record["graphs"][role]["max_abs_diff"] <= 1e-5
