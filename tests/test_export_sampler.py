"""ONNX export, bundle validation (format 2: manifest checksum, versions, upgrade) and the reference
posterior sampler."""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from xpcvae import params, rng
from xpcvae.bundle import BundleError, ModelBundle, write_manifest
from xpcvae.forward.instrument import N_WAVE
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles


def test_bundle_layout_and_manifest(tiny_bundle):
    m = tiny_bundle.manifest
    assert m["format"] == "xpcvae-bundle" and m["format_version"] == 2
    assert [p["name"] for p in m["parameters"]] == list(params.NAMES)
    assert np.allclose(m["wavelength_nm"], np.arange(336, 1021, 2))
    assert m["rng"] == rng.ALGORITHM == "splitmix64-counter-v3"
    # the manifest's checksum file, in sha256sum's format
    manifest = (tiny_bundle.root / "manifest.json").read_bytes()
    assert (tiny_bundle.root / "manifest.json.sha256").read_text() == \
        f"{hashlib.sha256(manifest).hexdigest()}  manifest.json\n"
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
    ids = [f"star-{i}" for i in range(6)]
    a = s.sample(f, e, 300, seed=11, source_ids=ids)
    b = s.sample(f, e, 300, seed=11, source_ids=ids)
    c = s.sample(f, e, 300, seed=12, source_ids=ids)
    assert a.shape == (6, 300, 7)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.all(a >= params.LOW) and np.all(a <= params.HIGH)
    # a spectrum's stream is its source id's: alone, or at another place of another batch, the same draws
    alone = s.sample(f[4:5], e[4:5], 300, seed=11, source_ids=[ids[4]])
    assert np.array_equal(alone[0], a[4])
    moved = s.sample(f[[2, 4]], e[[2, 4]], 300, seed=11, source_ids=["other", ids[4]])
    assert np.array_equal(moved[1], a[4])
    # the keys given directly are the ids' keys
    keyed = s.sample(f[4:5], e[4:5], 300, seed=11, source_keys=[rng.source_key(ids[4])])
    assert np.array_equal(keyed[0], a[4])
    # another id, another stream
    assert not np.allclose(s.sample(f[4:5], e[4:5], 300, seed=11, source_ids=["renamed"])[0], a[4])


def test_sampler_needs_ids_and_checks_seeds_and_keys(tiny_bundle, noisy_test_spectra):
    s = PosteriorSampler(tiny_bundle)
    f, e = noisy_test_spectra.flux[:2], noisy_test_spectra.sigma[:2]
    with pytest.raises(ValueError, match="needs the spectra's source_ids"):
        s.sample(f, e, 10, seed=1)
    with pytest.raises(ValueError, match="2 spectra but 1 source_ids"):
        s.sample(f, e, 10, seed=1, source_ids=["a"])
    with pytest.raises(TypeError, match="one entry per spectrum"):
        s.sample(f[:1], e[:1], 10, seed=1, source_ids="a")
    for seed in (-1, 2**64):
        with pytest.raises(ValueError, match=f"seed {seed} is not an integer in 0..18446744073709551615"):
            s.sample(f, e, 10, seed=seed, source_ids=["a", "b"])
    with pytest.raises(ValueError, match=f"source key {2**64} is not an integer"):
        s.sample(f[:1], e[:1], 10, seed=1, source_keys=[2**64])
    assert s.sample(f[:1], e[:1], 3, seed=2**64 - 1, source_ids=["a"]).shape == (1, 3, 7)


def test_sampler_follows_the_documented_algorithm(tiny_bundle, noisy_test_spectra):
    """Re-derive draw 0..9 of one source step by step from docs/sampling.md."""
    s = PosteriorSampler(tiny_bundle)
    f, e = noisy_test_spectra.flux[:1], noisy_test_spectra.sigma[:1]
    draws = s.sample(f, e, 10, seed=99, source_ids=["0003"])
    out = s.encode(f.astype(np.float32), e.astype(np.float32))
    key = rng.stream_key(99, 3)  # "0003" is a canonical decimal integer: its key is its value
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
        s.sample(noisy_test_spectra.flux[:1, :short], noisy_test_spectra.sigma[:1, :short], 10, seed=1,
                 source_ids=["short"])


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
    write_manifest(d, m)
    with pytest.raises(BundleError, match="cannot load r1_encoder.onnx"):
        PosteriorSampler(d)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.__setitem__("format_version", 3),
     "format_version 3 is not supported (this version of xpcvae reads format_version 2)"),
    (lambda m: m.__setitem__("format_version", "2"), 'format_version is "2", expected an integer'),
    (lambda m: m.__setitem__("format_version", "1"), 'format_version is "1", expected an integer'),
    (lambda m: m.__setitem__("format_version", 2.5), "format_version is 2.5, expected an integer"),
    (lambda m: m.pop("latent_size"), "lacks latent_size"),
    (lambda m: m["parameters"][0].__setitem__("high", 7500.0), "bounds of teff are [3000.0, 7500.0], expected "
                                                               "[3000.0, 7000.0]"),
    (lambda m: m.__setitem__("wavelength_nm", m["wavelength_nm"][:-1]), f"{N_WAVE - 1} points, expected {N_WAVE}"),
    (lambda m: m.__setitem__("rng", "mt19937"), "scheme 'mt19937' is not 'splitmix64-counter-v3'"),
    (lambda m: m.__setitem__("draws_per_sample", 35), "draws_per_sample 35 != 1 + L + P = 18"),
    (lambda m: m["files"]["r1_encoder"].__setitem__("path", "../r1_encoder.onnx"),
     "files.r1_encoder.path '../r1_encoder.onnx' points outside the bundle"),
    (lambda m: m["files"]["decoder_sample"].__setitem__("path", "/etc/passwd"),
     "files.decoder_sample.path '/etc/passwd' points outside the bundle"),
])
def test_bad_manifests(tiny_bundle, tmp_path, edit, message):
    """Manifests edited and rewritten with their checksum file: the reader's other checks refuse them."""
    d = _copy(tiny_bundle, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    edit(m)
    write_manifest(d, m)
    with pytest.raises(BundleError, match=re.escape(message)):
        ModelBundle.load(d)


def test_a_graph_outside_the_bundle_is_refused_even_if_it_exists(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    shutil.copy(d / "r1_encoder.onnx", tmp_path / "r1_encoder.onnx")  # a valid graph beside the bundle
    m = json.loads((d / "manifest.json").read_text())
    m["files"]["r1_encoder"]["path"] = "../r1_encoder.onnx"
    write_manifest(d, m)
    with pytest.raises(BundleError, match=re.escape("files.r1_encoder.path '../r1_encoder.onnx' points outside")):
        ModelBundle.load(d)


def test_the_manifest_is_verified_before_it_is_read(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    mf = d / "manifest.json"
    before = hashlib.sha256(mf.read_bytes()).hexdigest()
    # Teff's upper bound edited from 7000 to 7500, the checksum file left as exported
    text = mf.read_text()
    edited = re.sub(r'"high": 7000(\.0)?,', '"high": 7500.0,', text, count=1)
    assert edited != text
    mf.write_text(edited)
    after = hashlib.sha256(mf.read_bytes()).hexdigest()
    with pytest.raises(BundleError) as err:
        ModelBundle.load(d)
    assert str(err.value) == (f"bundle {d}: checksum mismatch for manifest.json (manifest.json.sha256 {before}, "
                              f"file {after}): the manifest was changed after export")
    # a checksum file recomputed for the edit: the parameter box is checked against the package's
    (d / "manifest.json.sha256").write_text(f"{after}  manifest.json\n")
    with pytest.raises(BundleError, match=re.escape("bounds of teff are [3000.0, 7500.0], expected [3000.0, 7000.0]")):
        ModelBundle.load(d)
    # no checksum file; a malformed one
    (d / "manifest.json.sha256").unlink()
    with pytest.raises(BundleError, match="manifest.json.sha256 is missing: the manifest cannot be verified"):
        ModelBundle.load(d)
    (d / "manifest.json.sha256").write_text("deadbeef  manifest.json\n")
    with pytest.raises(BundleError, match="manifest.json.sha256 is not a sha256sum line for manifest.json"):
        ModelBundle.load(d)
    # invalid JSON is only reported once the checksum matches it
    (d / "manifest.json.sha256").write_text(f"{after}  manifest.json\n")
    mf.write_text('{"format": "xpcvae-bundle", ')
    with pytest.raises(BundleError, match="checksum mismatch for manifest.json"):
        ModelBundle.load(d)
    (d / "manifest.json.sha256").write_text(f"{hashlib.sha256(mf.read_bytes()).hexdigest()}  manifest.json\n")
    with pytest.raises(BundleError, match="manifest.json is not valid JSON"):
        ModelBundle.load(d)


def test_checksum_file_as_sha256sum_writes_it(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    digest = hashlib.sha256((d / "manifest.json").read_bytes()).hexdigest()
    for line in (f"{digest}  manifest.json\n", f"{digest.upper()} *manifest.json", f"{digest}  manifest.json"):
        (d / "manifest.json.sha256").write_text(line)
        assert ModelBundle.load(d).root == d


def _format_1(d: Path, rng_name: str = "splitmix64-counter-v2", checksum: bool = False) -> None:
    """Turn the format-2 bundle in ``d`` into the format-1 bundle the same export gave before
    format 2: format_version 1, rng splitmix64-counter-v2, no manifest.json.sha256 (docs/sampling.md)."""
    m = json.loads((d / "manifest.json").read_text())
    m["format_version"], m["rng"] = 1, rng_name
    if checksum:
        write_manifest(d, m)
    else:
        (d / "manifest.json").write_text(json.dumps(m, indent=2))
        (d / "manifest.json.sha256").unlink()


def test_a_format_1_bundle_is_refused_with_the_upgrade_command(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    _format_1(d)
    want = (f"bundle {d}: format_version 1 is an earlier bundle format (random numbers 'splitmix64-counter-v2', "
            f"keyed by row number; no manifest checksum); this version of xpcvae reads format_version 2 "
            f"('splitmix64-counter-v3', keyed by source id; manifest.json.sha256): upgrade it, networks unchanged, "
            f"with the Python CLI: xpcvae upgrade-bundle {d}")
    with pytest.raises(BundleError) as err:
        ModelBundle.load(d)
    assert str(err.value) == want
    _format_1(d, checksum=True)  # the same with a checksum file
    with pytest.raises(BundleError) as err:
        ModelBundle.load(d)
    assert str(err.value) == want


def test_upgrade_bundle_makes_a_format_1_bundle_sample_as_a_fresh_export(tiny_bundle, noisy_test_spectra, tmp_path,
                                                                          capsys):
    from xpcvae.cli import main

    d = _copy(tiny_bundle, tmp_path)
    _format_1(d)
    graphs = {p.name: p.read_bytes() for p in d.glob("*.onnx")}
    assert main(["upgrade-bundle", str(d)]) == 0
    assert "format_version 1 -> 2" in capsys.readouterr().out
    upgraded = ModelBundle.load(d)
    assert {p.name: p.read_bytes() for p in d.glob("*.onnx")} == graphs  # the networks untouched
    m = upgraded.manifest
    assert (m["format_version"], m["rng"]) == (2, "splitmix64-counter-v3")
    assert m["provenance"]["upgraded"]["from"] == {"format_version": 1, "rng": "splitmix64-counter-v2"}
    assert {k: v for k, v in m.items() if k != "provenance"} == \
        {k: v for k, v in tiny_bundle.manifest.items() if k != "provenance"}
    f, e = noisy_test_spectra.flux[:3], noisy_test_spectra.sigma[:3]
    ids = ["a", "b", "5280437616401936512"]
    fresh = PosteriorSampler(tiny_bundle).sample(f, e, 200, seed=8, source_ids=ids)
    assert np.array_equal(PosteriorSampler(upgraded).sample(f, e, 200, seed=8, source_ids=ids), fresh)
    # a second run has nothing to do
    assert main(["upgrade-bundle", str(d)]) == 0
    assert "already format_version 2, nothing to do" in capsys.readouterr().out


def test_upgrade_bundle_refuses_what_it_cannot_upgrade(tiny_bundle, tmp_path, capsys):
    from xpcvae.cli import main

    d = _copy(tiny_bundle, tmp_path)
    _format_1(d, rng_name="splitmix64-counter-v1")
    assert main(["upgrade-bundle", str(d)]) == 2
    assert "re-export the bundle with `xpcvae export`" in capsys.readouterr().err
    # a format-1 bundle whose graph does not match its checksum is not rewritten
    d2 = tmp_path / "corrupt"
    shutil.copytree(tiny_bundle.root, d2)
    _format_1(d2)
    before = (d2 / "manifest.json").read_bytes()
    g = d2 / "decoder_sample.onnx"
    g.write_bytes(g.read_bytes()[:-10])
    assert main(["upgrade-bundle", str(d2)]) == 2
    assert "checksum mismatch for decoder_sample.onnx" in capsys.readouterr().err
    assert (d2 / "manifest.json").read_bytes() == before and not (d2 / "manifest.json.sha256").exists()
    assert main(["upgrade-bundle", str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_upgrading_the_shipped_format_1_manifest_gives_the_shipped_bundle(tmp_path):
    """tests/data/bundle-format1/manifest.json is export/default's manifest as shipped in format 1;
    upgrade-bundle turned it into format 2, byte for byte, and the graph rewrite of
    xpcvae.export.graph_form then changed only the two rewritten graphs' checksums and added its record."""
    from xpcvae.bundle import manifest_bytes, upgrade

    root = Path(__file__).resolve().parents[1]
    shipped = root / "export" / "default"
    format1 = (root / "tests" / "data" / "bundle-format1" / "manifest.json").read_bytes()
    manifest = json.loads((shipped / "manifest.json").read_text())
    rewrite = manifest["provenance"].pop("graph_form")
    # the shipped manifest before the graph rewrite: the graphs' former checksums, no record
    before = json.loads(json.dumps(manifest))
    for role, r in rewrite["graphs"].items():
        assert manifest["files"][role]["sha256"] == r["sha256_after"]
        before["files"][role]["sha256"] = r["sha256_before"]
    assert hashlib.sha256(manifest_bytes(before)).hexdigest() == rewrite["manifest_sha256_before"]
    assert hashlib.sha256(format1).hexdigest() == manifest["provenance"]["upgraded"]["manifest_sha256_before"]
    # upgrading the format-1 manifest (its graph checksums those of today's graphs) gives that manifest
    d = tmp_path / "default"
    d.mkdir()
    text = format1.decode()
    for r in rewrite["graphs"].values():
        text = text.replace(r["sha256_before"], r["sha256_after"])
    (d / "manifest.json").write_text(text)
    for g in shipped.glob("*.onnx"):
        os.symlink(g, d / g.name)
    upgrade(d)
    upgraded = json.loads((d / "manifest.json").read_text())
    assert upgraded["provenance"]["upgraded"].pop("manifest_sha256_before") == \
        hashlib.sha256(text.encode()).hexdigest()
    manifest["provenance"]["upgraded"].pop("manifest_sha256_before")
    assert manifest_bytes(upgraded) == manifest_bytes(manifest)


def test_bundle_of_the_previous_random_number_scheme_is_refused_with_a_hint(tiny_bundle, tmp_path):
    d = _copy(tiny_bundle, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["rng"] = "splitmix64-counter-v1"
    m["draws_per_sample"] = 1 + 2 * m["latent_size"] + 2 * 7  # what v1 bundles carry
    write_manifest(d, m)
    with pytest.raises(BundleError) as err:
        ModelBundle.load(d)
    msg = str(err.value)
    assert "'splitmix64-counter-v1' is an earlier one" in msg and "'splitmix64-counter-v3'" in msg
    assert "re-export the bundle with `xpcvae export`" in msg


def test_missing_manifest(tmp_path):
    with pytest.raises(BundleError, match="manifest.json is missing"):
        ModelBundle.load(tmp_path)
