"""ONNX export, bundle validation and the reference posterior sampler."""

import json
import re
import shutil

import numpy as np
import onnx
import pytest

from xpcvae import params, rng
from xpcvae.bundle import BundleError, ModelBundle
from xpcvae.forward.instrument import N_WAVE
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles


def test_bundle_layout_and_manifest(tiny_bundle):
    m = tiny_bundle.manifest
    assert m["format"] == "xpcvae-bundle" and m["format_version"] == 1
    assert [p["name"] for p in m["parameters"]] == list(params.NAMES)
    assert np.allclose(m["wavelength_nm"], np.arange(336, 1021, 2))
    assert m["rng"] == rng.ALGORITHM == "splitmix64-counter-v2"
    assert m["draws_per_sample"] == 1 + m["latent_size"] + 7
    for role in ("r1_encoder", "decoder_context", "decoder_sample"):
        onnx.checker.check_model(onnx.load(str(tiny_bundle.path(role))), full_check=True)
    assert max(m["export_check"]["max_abs_diff"].values()) <= 1e-5
    assert m["export_check"]["n_check"] >= 100


def test_onnx_matches_pytorch(tiny_run, tiny_bundle, noisy_test_spectra):
    import torch

    from xpcvae.train.run import load_run_model

    model, _ = load_run_model(tiny_run)
    s = PosteriorSampler(tiny_bundle)
    out = s.encode(noisy_test_spectra.flux.astype(np.float32), noisy_test_spectra.sigma.astype(np.float32))
    with torch.no_grad():
        f = torch.as_tensor(noisy_test_spectra.flux, dtype=torch.float32)
        e = torch.as_tensor(noisy_test_spectra.sigma, dtype=torch.float32)
        feats = model.features(f, e)
        logits, mean, log_std = model.r1(feats)
        ctx = model.r2.context(feats)
        z = torch.randn(len(f), model.cfg.latent_size)
        loc, log_scale = model.r2.sample_head(ctx, z)
    assert np.max(np.abs(out.logits - logits.numpy())) <= 1e-5
    assert np.max(np.abs(out.mean - mean.numpy())) <= 1e-5
    assert np.max(np.abs(out.context - ctx.numpy())) <= 1e-5
    got_loc, got_ls = s.decode(ctx.numpy(), z.numpy())
    assert np.max(np.abs(got_loc - loc.numpy())) <= 1e-5
    assert np.max(np.abs(got_ls - log_scale.numpy())) <= 1e-5


def test_sampler_is_seeded_bounded_and_batch_independent(tiny_bundle, noisy_test_spectra):
    s = PosteriorSampler(tiny_bundle)
    f, e = noisy_test_spectra.flux[:6], noisy_test_spectra.sigma[:6]
    a = s.sample(f, e, 300, seed=11)
    b = s.sample(f, e, 300, seed=11)
    c = s.sample(f, e, 300, seed=12)
    assert a.shape == (6, 300, 7)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.all(a >= params.LOW) and np.all(a <= params.HIGH)
    alone = s.sample(f[4:5], e[4:5], 300, seed=11, source_indices=[4])
    # same stream; ONNX Runtime may round differently in another batch size -> float32 level
    assert np.max(np.abs((alone[0] - a[4]) / (params.HIGH - params.LOW))) < 1e-5


def test_sampler_follows_the_documented_algorithm(tiny_bundle, noisy_test_spectra):
    """Re-derive draw 0..9 of one source step by step from docs/sampling.md."""
    s = PosteriorSampler(tiny_bundle)
    f, e = noisy_test_spectra.flux[:1], noisy_test_spectra.sigma[:1]
    draws = s.sample(f, e, 10, seed=99, source_indices=[3])
    out = s.encode(f.astype(np.float32), e.astype(np.float32))
    key = rng.stream_key(99, 3)
    L, D = tiny_bundle.latent_size, tiny_bundle.draws_per_sample
    w = np.exp(out.logits[0].astype(float))
    w = w / w.sum()
    for j in range(10):
        b = j * D
        u = float(rng.uniform(key, b))
        k = next((i for i in range(len(w)) if u < np.sum(w[: i + 1])), len(w) - 1)
        z = np.array([out.mean[0, k, l] + np.exp(out.log_std[0, k, l]) * rng.normal(key, b + 1 + l)
                      for l in range(L)], dtype=np.float32)
        loc, ls = s.decode(out.context[:1], z[None])
        x = []
        for p in range(7):
            wv = loc[0, p] + np.exp(float(ls[0, p])) * float(rng.normal(key, b + 1 + L + p))
            x.append(params.LOW[p] + (params.HIGH[p] - params.LOW[p]) / (1 + np.exp(-wv)))
        assert np.allclose(draws[0, j], x, rtol=0, atol=1e-6 * (params.HIGH - params.LOW).max())


def test_percentiles_match_a_hand_computed_example():
    draws = np.array([[[1.0], [2.0], [4.0], [8.0], [16.0]]])  # N = 5, one parameter
    q = percentiles(draws)
    # h = (N - 1) q: median h = 2 -> 4; p16 h = 0.64 -> 1 + 0.64 * (2 - 1) = 1.64;
    # p84 h = 3.36 -> 8 + 0.36 * 8 = 10.88; p2.5 h = 0.1 -> 1.1; p97.5 h = 3.9 -> 8 + 0.9 * 8 = 15.2
    assert q["median"][0, 0] == pytest.approx(4.0)
    assert q["p16"][0, 0] == pytest.approx(1.64)
    assert q["p84"][0, 0] == pytest.approx(10.88)
    assert q["p2.5"][0, 0] == pytest.approx(1.1)
    assert q["p97.5"][0, 0] == pytest.approx(15.2)


@pytest.mark.parametrize("mutate, message", [
    (lambda f, e: f.__setitem__(5, np.nan), "flux[5] = nan is not finite"),
    (lambda f, e: f.__setitem__(0, np.inf), "flux[0] = inf is not finite"),
    (lambda f, e: e.__setitem__(9, 0.0), "flux_error[9] = 0 is not positive"),
    (lambda f, e: e.__setitem__(3, -1.0), "flux_error[3] = -1 is not positive"),
    (lambda f, e: f.__imul__(0.0), "mean flux is 0"),
])
def test_bad_spectra_are_rejected_with_the_source_named(tiny_bundle, noisy_test_spectra, mutate, message):
    s = PosteriorSampler(tiny_bundle)
    f, e = noisy_test_spectra.flux[0].copy(), noisy_test_spectra.sigma[0].copy()
    mutate(f, e)
    with pytest.raises(InvalidSpectrumError, match="source star-9") as exc:
        s.sample(f[None], e[None], 10, seed=1, source_ids=["star-9"])
    assert message in str(exc.value)


def test_wrong_length_spectrum_is_rejected(tiny_bundle, noisy_test_spectra):
    s = PosteriorSampler(tiny_bundle)
    short = N_WAVE - 1
    with pytest.raises(InvalidSpectrumError, match=f"has {short} samples, expected {N_WAVE}"):
        s.sample(noisy_test_spectra.flux[:1, :short], noisy_test_spectra.sigma[:1, :short], 10, seed=1)


def _copy(bundle, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(bundle.root, dst)
    return dst


def test_bundle_checksum_mismatch(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    p = d / "decoder_sample.onnx"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(BundleError, match="checksum mismatch for decoder_sample.onnx"):
        ModelBundle.load(d)


def test_corrupt_onnx_with_matching_checksum_is_reported(tiny_bundle, tmp_path):
    from xpcvae.bundle import sha256_of

    d = _copy(tiny_bundle, tmp_path)
    p = d / "r1_encoder.onnx"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    m = json.loads((d / "manifest.json").read_text())
    m["files"]["r1_encoder"]["sha256"] = sha256_of(p)
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="cannot load r1_encoder.onnx"):
        PosteriorSampler(d)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.__setitem__("format_version", 2), "format_version 2 is not supported"),
    (lambda m: m.pop("latent_size"), "lacks latent_size"),
    (lambda m: m["parameters"][0].__setitem__("high", 8000.0), "bounds of teff"),
    (lambda m: m.__setitem__("wavelength_nm", m["wavelength_nm"][:-1]), f"{N_WAVE - 1} points, expected {N_WAVE}"),
    (lambda m: m.__setitem__("rng", "mt19937"), "scheme 'mt19937' is not 'splitmix64-counter-v2'"),
    (lambda m: m.__setitem__("draws_per_sample", 35), "draws_per_sample 35 != 1 + L + P = 18"),
])
def test_bad_manifests(tiny_bundle, tmp_path, edit, message):
    d = _copy(tiny_bundle, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    edit(m)
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match=re.escape(message)):
        ModelBundle.load(d)


def test_bundle_of_the_previous_random_number_scheme_is_refused_with_a_hint(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["rng"] = "splitmix64-counter-v1"
    m["draws_per_sample"] = 1 + 2 * m["latent_size"] + 2 * 7  # what v1 bundles carry
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError) as err:
        ModelBundle.load(d)
    msg = str(err.value)
    assert "'splitmix64-counter-v1' is an earlier one" in msg and "'splitmix64-counter-v2'" in msg
    assert "re-export the bundle with `xpcvae export`" in msg


def test_missing_manifest(tmp_path):
    with pytest.raises(BundleError, match="manifest.json is missing"):
        ModelBundle.load(tmp_path)
