"""Rebuilding a training run from a bundle's ONNX weights (xpcvae.train.import_bundle)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from xpcvae.bundle import onnx_session
from xpcvae.export.interface import NETWORK_TOLERANCE
from xpcvae.export.networks import graph_difference, graph_inputs
from xpcvae.train.import_bundle import BundleImportError, import_bundle, model_from_bundle
from xpcvae.train.run import Run, load_run_model

from conftest import DEFAULT_BUNDLE

ROLES = ("r1_encoder", "decoder_context", "decoder_sample")


def _max_graph_difference(model, bundle, spectra) -> dict:
    inputs = graph_inputs(model, spectra)
    return {role: graph_difference(model, role, onnx_session(str(bundle.root / f"{role}.onnx")), inputs[role])
            for role in ROLES}


def test_the_rebuilt_tiny_model_is_the_trained_one(tiny_run, tiny_bundle, noisy_test_spectra):
    """The weights mapped back from the ONNX initializers are exactly the run's (q aside)."""
    trained, _ = load_run_model(tiny_run)
    rebuilt, _ = model_from_bundle(tiny_bundle.root)
    want, got = trained.state_dict(), rebuilt.state_dict()
    assert set(want) == set(got)
    for key in want:
        if key.startswith("q."):
            continue  # not in a bundle
        assert torch.equal(want[key], got[key]), key
    spectra = (noisy_test_spectra.flux, noisy_test_spectra.sigma)
    assert max(_max_graph_difference(rebuilt, tiny_bundle, spectra).values()) <= NETWORK_TOLERANCE


def test_the_rebuilt_shipped_model_reproduces_its_onnx_graphs():
    from xpcvae.data.realstars import select_test_set

    model, bundle = model_from_bundle(DEFAULT_BUNDLE)
    stars = select_test_set(max_stars=150)
    diff = _max_graph_difference(model, bundle, (stars.flux.astype(np.float32), stars.flux_error.astype(np.float32)))
    # the per-spectrum graphs run in double precision: only float32 rounding of their outputs remains
    assert diff["r1_encoder"] <= 1e-6 and diff["decoder_context"] <= 1e-6
    assert diff["decoder_sample"] <= NETWORK_TOLERANCE


def test_import_writes_a_run_that_fine_tuning_and_evaluation_accept(tmp_path, monkeypatch):
    from xpcvae.simulate import observe
    from xpcvae.train.training import split_indices

    built = []
    monkeypatch.setattr(observe.ResidualTemplates, "from_library",
                        classmethod(lambda cls, fwd, lib=None: built.append(fwd) or cls(
                            np.zeros((observe.RESIDUAL_NEIGHBOURS, 343)),
                            np.linspace(3000, 7000, observe.RESIDUAL_NEIGHBOURS))))
    run = import_bundle(DEFAULT_BUNDLE, tmp_path / "imported")
    manifest = json.loads((DEFAULT_BUNDLE / "manifest.json").read_text())
    cfg = run.read_config()
    assert cfg["model"] == manifest["architecture"]
    assert cfg["training"]["split_seed"] == manifest["provenance"]["training"]["split_seed"]
    assert cfg["grid_size"] == manifest["provenance"]["grid_size"]
    split = run.read_split()
    want = split_indices(cfg["grid_size"], 0.05, 0.05, manifest["provenance"]["training"]["split_seed"])
    assert all(np.array_equal(split[k], want[k]) for k in want)
    # residual templates rebuilt for the bundle's own forward model, since it was trained with them
    from xpcvae.forward.config import ForwardConfig
    assert built == [ForwardConfig.from_grid_attrs(manifest["provenance"]["grid_attrs"])]
    model, _ = run.load_model()
    ref, _ = model_from_bundle(DEFAULT_BUNDLE)
    for key, value in ref.state_dict().items():
        if not key.startswith("q."):
            assert torch.equal(value, model.state_dict()[key])
    assert not run.last_checkpoint.exists()  # nothing to resume
    with pytest.raises(ValueError, match="already holds a run"):
        import_bundle(DEFAULT_BUNDLE, run.path)


def test_a_bundle_whose_graph_does_not_match_its_architecture_is_refused(tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(DEFAULT_BUNDLE, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["architecture"]["context_size"] = 64
    from xpcvae.bundle import write_manifest
    write_manifest(bad, manifest)
    with pytest.raises(BundleImportError, match="shape"):
        model_from_bundle(bad)
