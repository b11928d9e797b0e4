"""Python/Java numerical parity, driven through JPype.

The JVM is started once per test session with the jars of the Gradle distribution
(``make java`` builds it; ``make test`` always does before pytest). The Java classes
are called directly: the random numbers, the network outputs, the seeded posterior
draws and their summaries must agree with the Python reference, the Java forward model
(the bundle's ``forward_model`` graph) and goodness of fit with the NumPy ones, and the
Java CLI must write the same summary file as ``xpcvae infer --engine python``, its
goodness-of-fit columns included.

Every test runs against the tiny test bundle (trained in this session) and the
shipped default bundle in ``export/default``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xpcvae import params, rng
from xpcvae.infer.sampler import PosteriorSampler, percentiles

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "java" / "build" / "install" / "xpcvae"
LAUNCHER = DIST / "bin" / "xpcvae"
SPAN = params.HIGH - params.LOW


@pytest.fixture(scope="session")
def java():
    import jpype

    jars = sorted(str(p) for p in (DIST / "lib").glob("*.jar"))
    assert jars, f"no jars in {DIST / 'lib'}: build the Java module with `make java`"
    if not jpype.isJVMStarted():
        jpype.startJVM(classpath=jars, convertStrings=True)
    return jpype.JPackage("org").xpcvae


@pytest.fixture(scope="session")
def default_spectra(noise):
    """Spectra from the default forward model over the whole box, incl. A0 = 10, ff = 0, G = 17.5."""
    from xpcvae.forward import ForwardModel

    r = np.random.default_rng(21)
    theta = params.from_unit(r.random((110, params.NDIM)))
    theta[0, 6] = 10.0            # maximum extinction
    theta[1, 4] = 0.0             # no accretion columns
    theta[2, [0, 6]] = [3000, 10.0]  # coolest and most extincted
    clean, _ = ForwardModel().spectra(theta)
    g = np.linspace(11.0, 17.5, len(theta))
    sigma = np.asarray(noise.sigma(clean, g[:, None]))
    flux = clean + sigma * r.standard_normal(clean.shape)
    return flux, sigma


@pytest.fixture(scope="session", params=["tiny", "default"])
def case(request, tiny_bundle, noisy_test_spectra):
    """(bundle directory, flux, flux_error) for the tiny test bundle and the shipped one."""
    if request.param == "tiny":
        return tiny_bundle.root, noisy_test_spectra.flux, noisy_test_spectra.sigma
    bundle = ROOT / "export" / "default"
    assert (bundle / "manifest.json").exists(), "the shipped bundle export/default is missing"
    flux, sigma = request.getfixturevalue("default_spectra")
    return bundle, flux, sigma


def jlong(x: int) -> int:
    """An unsigned 64-bit integer as the Java long of the same bits."""
    return x - 2**64 if x >= 2**63 else x


def java_spectra(java, flux, sigma, ids=None):
    import jpype

    JDouble = jpype.JArray(jpype.JDouble)
    ids = ids or [f"s{i}" for i in range(len(flux))]
    return [java.Spectrum.of(sid, JDouble(f.astype(float)), JDouble(e.astype(float)))
            for sid, f, e in zip(ids, flux, sigma)]


def test_random_numbers_agree(java):
    import jpype

    SplittableRandom = jpype.JClass("java.util.SplittableRandom")
    seeds = [0, 1, 42, 2**64 - 7, 2**62 + 3]
    for seed in seeds:
        for source_key in (0, 1, 99, 2**40 + 5, 2**64 - 1):
            key = int(rng.stream_key(seed, source_key))
            jkey = int(java.CounterRng.streamKey(jlong(seed), jlong(source_key)))
            assert jkey & (2**64 - 1) == key
            counters = np.arange(200)
            jbits = [int(java.CounterRng.bits(jkey, int(c))) & (2**64 - 1) for c in counters]
            assert jbits == [int(b) for b in rng.bits(key, counters)]
            # and both equal java.util.SplittableRandom, an independent implementation
            ref = SplittableRandom(jkey)
            assert [int(ref.nextLong()) & (2**64 - 1) for _ in counters] == jbits
            ju = np.array([java.CounterRng.uniform(jkey, int(c)) for c in counters])
            assert np.array_equal(ju, rng.uniform(key, counters))
            jn = np.array([java.CounterRng.normal(jkey, int(c)) for c in counters])
            pn = rng.normal(key, counters)
            central = np.abs(rng.uniform(key, counters) - 0.5) <= 0.425
            assert np.array_equal(jn[central], pn[central])
            assert np.all(np.abs(jn - pn) <= 1.5e-15 * np.abs(pn))


@pytest.mark.parametrize("seed, source_key", [(2024, 0), (2**64 - 3, 2**40 + 5)])
def test_normals_agree_on_a_million_counters(java, seed, source_key):
    """splitmix64-counter-v2: AS241's central branch (85 %) is + - * / only and gives the same
    bits in both languages. The tails go through a logarithm: NumPy's and fdlibm's differ by an
    ulp for ~3 % of the arguments, which moves r = sqrt(-log p) by an ulp and the normal by up
    to ~5 ulps (8.6e-16 relative in 6e6 counters); with Java's log the tails are the same bits."""
    import jpype

    key = int(rng.stream_key(seed, source_key))
    jkey = int(java.CounterRng.streamKey(jlong(seed), jlong(source_key)))
    rows, count, first = 1000, 1000, 5  # counters first .. first + 10**6 - 1, through the sampler's bulk path
    scratch = jpype.JArray(jpype.JDouble)(rows * count)
    out = jpype.JArray(jpype.JDouble)(rows * count)
    java.CounterRng.fillNormals(jkey, first, count, rows, count, scratch, out)
    jn = np.array(out, dtype=np.float64)
    counters = np.arange(first, first + rows * count, dtype=np.uint64)
    pn = rng.normal(key, counters)
    u = rng.uniform(key, counters)
    assert np.array_equal(np.array(scratch, dtype=np.float64), u)  # the uniforms, bit for bit
    central = np.abs(u - 0.5) <= 0.425
    assert 0.84 < central.mean() < 0.86
    assert np.array_equal(jn[central], pn[central])
    rel = np.abs(jn[~central] - pn[~central]) / np.abs(pn[~central])
    assert rel.max() <= 1.5e-15, rel.max()
    assert (rel == 0).mean() > 0.97
    # every difference is the logarithm's: with StrictMath.log (= fdlibm, what Java uses) NumPy
    # reproduces Java's bits
    differ = np.nonzero(jn != pn)[0]
    assert len(differ) > 0
    strict_log = np.vectorize(jpype.JClass("java.lang.StrictMath").log, otypes=[np.float64])
    assert np.array_equal(rng.inverse_normal_cdf(u[differ], log=strict_log), jn[differ])
    # the scalar path gives the bulk path's bits
    for c in (0, 1, 17, 999_999):
        assert java.CounterRng.normal(jkey, first + c) == jn[c]


def test_java_refuses_a_bundle_of_the_previous_random_number_scheme(java, tiny_bundle, tmp_path):
    import json
    import shutil

    import jpype

    from xpcvae.bundle import write_manifest

    d = tmp_path / "v1"
    shutil.copytree(tiny_bundle.root, d)
    m = json.loads((d / "manifest.json").read_text())
    m["rng"], m["draws_per_sample"] = "splitmix64-counter-v1", 1 + 2 * m["latent_size"] + 2 * 7
    write_manifest(d, m)
    with pytest.raises(jpype.JClass("org.xpcvae.BundleException")) as err:
        java.ModelBundle.load(jpype.JClass("java.nio.file.Path").of(str(d)))
    msg = str(err.value.getMessage())
    assert "'splitmix64-counter-v1' is an earlier random-number scheme" in msg
    assert "'splitmix64-counter-v3'" in msg and "re-export the bundle with `xpcvae export`" in msg


def test_network_outputs_agree(java, case):
    bundle, flux, sigma = case
    assert len(flux) >= 100
    py = PosteriorSampler(bundle)
    with java.PosteriorSampler.open(str(bundle)) as js:
        spectra = java_spectra(java, flux, sigma)
        worst = 0.0
        for i, s in enumerate(spectra):
            j_out = [np.array(a, dtype=np.float32) for a in js.encoderOutputs(s)]
            p = py.encode(flux[i : i + 1].astype(np.float32), sigma[i : i + 1].astype(np.float32))
            for a, b in zip(j_out, (p.logits, p.mean, p.log_std, p.context)):
                worst = max(worst, float(np.max(np.abs(a - b.ravel()))))
    assert worst <= 1e-5, worst


def test_seeded_posterior_samples_and_summaries_agree(java, case):
    bundle, flux, sigma = case
    n = 500
    # Gaia-like integer ids (keyed by value) and text ids (hashed)
    ids = [str(5280437616401936512 + 7 * i) if i % 2 else f"star {i}" for i in range(len(flux))]
    py = PosteriorSampler(bundle)
    with java.PosteriorSampler.open(str(bundle)) as js:
        import jpype

        jlist = jpype.JClass("java.util.ArrayList")()
        for s in java_spectra(java, flux, sigma, ids):
            jlist.add(s)
        j_res = js.sample(jlist, n, 2024)
        assert [int(r.sourceKey()) & (2**64 - 1) for r in j_res] == [int(k) for k in rng.source_keys(ids)]
        j_draws = np.array([np.array(r.flatSamples()).reshape(n, 7) for r in j_res])
        j_summ = [r.summary() for r in j_res]
    p_draws = np.concatenate([py.sample(flux[i : i + 1], sigma[i : i + 1], n, seed=2024, source_ids=[ids[i]])
                              for i in range(len(flux))])
    assert j_draws.shape == p_draws.shape == (len(flux), n, 7)
    diff_unit = np.abs(j_draws - p_draws) / SPAN
    assert diff_unit.max() <= 1e-5, diff_unit.max()
    q = percentiles(p_draws)
    for i, s in enumerate(j_summ):
        for name, getter in (("median", s.median), ("p16", s.p16), ("p84", s.p84), ("p2.5", s.p2_5),
                             ("p97.5", s.p97_5)):
            got = np.array([getter(k) for k in range(7)])
            assert np.all(np.abs(got - q[name][i]) / SPAN <= 1e-5), (i, name)
    # the draws are genuinely random and inside the box
    assert np.all(p_draws >= params.LOW) and np.all(p_draws <= params.HIGH)
    assert np.all(p_draws.std(axis=1) > 0)


def test_java_cli_writes_what_python_writes(case, tmp_path):
    from xpcvae.infer.batch import infer_csv
    from xpcvae.data.spectra_csv import read_summary_csv, write_spectra_csv

    bundle, flux, sigma = case
    f, e = flux[:12].copy(), sigma[:12].copy()
    e[4, 17] = -1.0     # a bad row in the middle of the batch
    f[9, 100] = np.nan  # and another
    ids = [f"src{i}" for i in range(len(f))]
    spectra = tmp_path / "in.csv"
    write_spectra_csv(spectra, ids, f, e)
    j_out, p_out = tmp_path / "java.csv", tmp_path / "python.csv"
    proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(bundle), "--input", str(spectra), "--out",
                           str(j_out), "--samples", "400", "--seed", "5"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr  # some sources failed
    assert "2 of 12 sources failed" in proc.stderr
    ok, failed = infer_csv(bundle, spectra, p_out, n_samples=400, seed=5, progress=False)
    assert (ok, failed) == (10, 2)
    jr, pr = read_summary_csv(j_out), read_summary_csv(p_out)
    assert [r["source_id"] for r in jr] == ids == [r["source_id"] for r in pr]
    assert [r["status"] for r in jr] == [r["status"] for r in pr]
    assert jr[4]["status"] == "error" and "flux_error[17]" in jr[4]["message"] and "src4" in jr[4]["message"]
    assert jr[9]["status"] == "error" and "flux[100]" in jr[9]["message"]
    cols = [c for c in jr[0] if c.split("_")[-1] in ("median", "p16", "p84", "p2.5", "p97.5")]
    assert len(cols) == 35
    assert list(jr[0]) == list(pr[0])  # the same header, gof_chi2,ood_flag,ood_reason,at_bound last
    assert list(jr[0])[-4:] == ["gof_chi2", "ood_flag", "ood_reason", "at_bound"]
    for a, b in zip(jr, pr):
        if a["status"] != "ok":
            assert [a[k] for k in list(a)[-4:]] == ["", "", "", ""] == [b[k] for k in list(b)[-4:]]
            continue
        for c in cols:
            name = c.rsplit("_", 1)[0]
            span = SPAN[params.INDEX[name]]
            assert abs(float(a[c]) - float(b[c])) / span <= 1e-5, (a["source_id"], c)
        assert float(a["gof_chi2"]) == pytest.approx(float(b["gof_chi2"]), rel=1e-6, abs=0), a["source_id"]
        assert (a["ood_flag"], a["ood_reason"], a["at_bound"]) == (b["ood_flag"], b["ood_reason"], b["at_bound"])


def test_java_batch_inference_api_writes_what_the_cli_writes(java, case, tmp_path):
    """org.xpcvae.BatchInference called in-process (4 threads, work units of 5) writes the CLI's summary, byte for byte."""
    import jpype

    from xpcvae.data.spectra_csv import write_spectra_csv

    bundle, flux, sigma = case
    f, e = flux[:12].copy(), sigma[:12].copy()
    e[4, 17] = -1.0
    spectra = tmp_path / "in.csv"
    write_spectra_csv(spectra, [f"src{i}" for i in range(len(f))], f, e)
    cli_out, api_out = tmp_path / "cli.csv", tmp_path / "api.csv"
    proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(bundle), "--input", str(spectra), "--out",
                           str(cli_out), "--samples", "400", "--seed", "5"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    JPath = jpype.JClass("java.nio.file.Path")
    jb = java.ModelBundle.load(str(bundle))
    options = java.BatchInference.Options.defaults().withSamples(400).withSeed(5).withThreads(4).withBatchSize(5)
    with java.BatchInference(jb, options) as inference, \
            java.SpectraCsv.open(JPath.of(str(spectra)), jb.spectrumLength()) as reader, \
            java.SummaryCsv.create(JPath.of(str(api_out)), jb.parameters()) as summary:
        report = inference.run(reader, summary, None)
        summary.commit()
    assert (report.sources(), report.failed()) == (12, 1)
    assert report.failures()[0].rowIndex() == 4 and "flux_error[17]" in str(report.failures()[0].message())
    assert api_out.read_bytes() == cli_out.read_bytes()


def _java_summary(java, bundle_dir, source_id, median):
    import jpype

    jb = java.ModelBundle.load(str(bundle_dir))
    draws = jpype.JArray(jpype.JDouble, 2)([list(map(float, median))])
    return java.PosteriorSamples.of(source_id, 0, 0, jb.parameters(), draws).summary()


def test_java_forward_model_agrees_with_numpy(java, case):
    """The forward_model graph on ONNX Runtime Java against ForwardModel.spectra (float64 both)."""
    import jpype

    from xpcvae.bundle import ModelBundle
    from xpcvae.forward.config import ForwardConfig
    from xpcvae.forward.model import model_spectra

    bundle, _, _ = case
    b = ModelBundle.load(bundle)
    r = np.random.default_rng(17)
    theta = params.from_unit(r.random((300, params.NDIM)))
    theta[:40, params.INDEX["ff"]] = 0.0
    theta[40:60, params.INDEX["a0"]] = 10.0
    theta[60:100] = np.where(r.random((40, params.NDIM)) < 0.5, params.LOW, params.HIGH)
    want = model_spectra(theta, ForwardConfig.from_manifest(b.manifest))
    with java.GoodnessOfFit(java.ModelBundle.load(str(bundle))) as g:
        got = np.array([list(row) for row in g.modelSpectra(jpype.JArray(jpype.JDouble, 2)(theta.tolist()))])
    # the requirement is 1e-6; float64 throughout gives ~1e-13 (a float32 step would show as ~1e-8)
    assert np.max(np.abs(got / want - 1)) <= 1e-10


def test_java_goodness_of_fit_of_python_medians(java, case, tmp_path):
    """Java's gof columns of the same medians and spectra are Python's (reduced_chi2, ood_columns)."""
    import jpype

    from xpcvae.bundle import ModelBundle
    from xpcvae.forward.config import ForwardConfig
    from xpcvae.forward.gof import ood_columns, reduced_chi2
    from xpcvae.forward.model import model_spectra

    bundle, flux, sigma = case
    b = ModelBundle.load(bundle)
    n = 40
    f32, e32 = flux[:n].astype(np.float32), sigma[:n].astype(np.float32)
    r = np.random.default_rng(3)
    medians = params.from_unit(r.uniform(0.002, 0.998, (n, params.NDIM)))
    medians[:5, params.INDEX["ff"]] = 0.0  # at a bound
    gof = b.gof_settings
    model = model_spectra(medians, ForwardConfig.from_manifest(b.manifest))
    chi2 = reduced_chi2(f32.astype(float), e32.astype(float), model, gof.systematic, gof.dof)
    assert (chi2 > gof.threshold).any() and (chi2 <= gof.threshold).any()  # both kinds of rows
    JFloat = jpype.JArray(jpype.JFloat)
    jl = jpype.JClass("java.util.ArrayList")
    summaries, spectra = jl(), jl()
    for i in range(n):
        summaries.add(_java_summary(java, bundle, f"s{i}", medians[i]))
        spectra.add(java.Spectrum(f"s{i}", JFloat(f32[i].tolist()), JFloat(e32[i].tolist())))
    with java.GoodnessOfFit(java.ModelBundle.load(str(bundle))) as g:
        res = list(g.evaluate(summaries, spectra))
    for i, res_i in enumerate(res):
        cols = [str(c) for c in res_i.columns()]
        want = ood_columns(chi2[i], medians[i], b.low, b.high, gof.threshold, gof.bound_fraction)
        assert float(cols[0]) == pytest.approx(chi2[i], rel=1e-12, abs=0)
        assert cols[1:] == want[1:], i


# -- format 2: streams keyed by source id, the checksummed manifest ------------------------------

SOURCE_ID_VECTORS = [
    "0", "7", "007", "0000000000000000007", "00000000000000000007", "5280437616401936512",
    "9223372036854775807", "9223372036854775808", "18446744073709551615", "99999999999999999999", "-1", "+1",
    " 1", "1 ", "1.0", "1e3", "", "a", "foobar", "Gaia DR3 5280437616401936512", "\u0663", "\uff11", "\u00e9",
    "caf\u00e9", "\u2605 star", "\U0001f600", "\u4e2d\u6587",
]


def _fnv1a64(data: bytes) -> int:
    """FNV-1a 64 straight from its definition (offset basis, then XOR and multiply per octet)."""
    h = 0xCBF29CE484222325
    for octet in data:
        h = ((h ^ octet) * 0x100000001B3) % 2**64
    return h


def test_source_keys_agree(java):
    for sid in SOURCE_ID_VECTORS:
        canonical = sid.isascii() and sid.isdigit() and len(sid) <= 19 and int(sid) <= 2**63 - 1
        want = int(sid) if canonical else _fnv1a64(sid.encode("utf-8"))
        assert int(rng.source_key(sid)) == want, sid
        assert int(java.CounterRng.sourceKey(sid)) & (2**64 - 1) == want, sid
    # hand-checkable FNV-1a values: the empty string is the offset basis; "a" is one step from it
    assert int(java.CounterRng.sourceKey("")) & (2**64 - 1) == 0xCBF29CE484222325
    assert int(java.CounterRng.sourceKey("a")) & (2**64 - 1) == (0xCBF29CE484222325 ^ 0x61) * 0x100000001B3 % 2**64 \
        == 0xAF63DC4C8601EC8C


def test_seed_range_and_message_agree(java, tmp_path):
    import jpype

    for text in ("0", "42", "9223372036854775808", "18446744073709551615", "18446744073709551616", "-1", "+1",
                 "1.5", "", " 7"):
        try:
            want = rng.parse_seed(text)
        except ValueError as exc:
            with pytest.raises(jpype.JClass("java.lang.IllegalArgumentException")) as err:
                java.CounterRng.parseSeed(text)
            assert str(err.value.getMessage()) == str(exc)
        else:
            assert int(java.CounterRng.parseSeed(text)) & (2**64 - 1) == want
    # both CLIs: one line, exit status 2, the same words
    from xpcvae.cli import main

    out = tmp_path / "s.csv"
    spectra = ROOT / "examples" / "spectra.csv"
    proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(ROOT / "export" / "default"), "--input",
                           str(spectra), "--out", str(out), "--seed", str(2**64)], capture_output=True, text=True)
    line = f"xpcvae infer: error: seed {2**64} is not an integer in 0..{2**64 - 1} (seeds are unsigned 64-bit integers)"
    assert proc.returncode == 2 and proc.stderr.strip() == line
    py = subprocess.run([sys.executable, "-m", "xpcvae.cli", "infer", "--bundle", str(ROOT / "export" / "default"),
                         "--input", str(spectra), "--out", str(out), "--seed", str(2**64)], capture_output=True,
                        text=True)
    assert py.returncode == 2 and py.stderr.strip() == line
    assert not out.exists()


def test_parameter_tables_agree(java):
    jp = list(java.ModelBundle.PARAMETERS)
    assert [(str(p.name()), str(p.symbol()), str(p.unit()), float(p.low()), float(p.high()), str(p.description()))
            for p in jp] == [(p.name, p.symbol, p.unit, p.low, p.high, p.description) for p in params.PARAMETERS]


def _star_file(path, ids, flux, sigma):
    from xpcvae.data.spectra_csv import write_spectra_csv

    # float32 values written exactly, so both readers see the same spectrum
    write_spectra_csv(path, ids, flux.astype(np.float32).astype(float), sigma.astype(np.float32).astype(float))


def _rows_of(samples_csv, source_id) -> list[str]:
    with open(samples_csv, newline="") as fh:
        return [line for line in fh.read().splitlines() if line.split(",")[0] == source_id]


def test_a_star_gets_the_same_draws_anywhere(java, default_spectra, tmp_path):
    """The same star alone in a file, as row 5 of a 1,000-star file, in work units of 1, 7 and 64
    and on 1 and 4 threads, through the Java CLI and API and the Python batch engine and API: the
    same bits within each engine, and the two engines agree."""
    import jpype

    from xpcvae.data.spectra_csv import read_summary_csv
    from xpcvae.infer.batch import infer_csv

    bundle = ROOT / "export" / "default"
    flux, sigma = default_spectra
    star_id, n, seed = "Gaia DR3 4295806720", 40, 2**63 + 11
    star = 7
    others = [i for i in range(len(flux)) if i != star]
    rows = [others[k % len(others)] for k in range(999)]
    rows.insert(5, star)
    ids = [f"other-{k}" for k in range(1000)]
    ids[5] = star_id
    alone, big = tmp_path / "alone.csv", tmp_path / "big.csv"
    _star_file(alone, [star_id], flux[[star]], sigma[[star]])
    _star_file(big, ids, flux[rows], sigma[rows])

    def java_cli(src, tag, batch, threads):
        out, draws = tmp_path / f"j-{tag}.csv", tmp_path / f"jd-{tag}.csv"
        proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(bundle), "--input", str(src), "--out",
                               str(out), "--samples", str(n), "--seed", str(seed), "--samples-out", str(draws),
                               "--batch", str(batch), "--threads", str(threads)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        summary = next(r for r in read_summary_csv(out) if r["source_id"] == star_id)
        return summary, _rows_of(draws, star_id)

    j_ref = java_cli(alone, "alone", 64, 1)
    for batch, threads in ((1, 1), (7, 4), (64, 1), (64, 4)):
        assert java_cli(big, f"{batch}-{threads}", batch, threads) == j_ref, (batch, threads)
    j_draws = np.array([[float(v) for v in line.split(",")[2:]] for line in j_ref[1]])

    # the Java API: alone, at position 5 of batches of 7 and 64
    spectra = java_spectra(java, flux[rows[:64]], sigma[rows[:64]], ids[:64])
    JList = jpype.JClass("java.util.ArrayList")
    with java.PosteriorSampler.open(str(bundle)) as js:
        api_alone = np.array(js.sample(spectra[5], n, jlong(seed)).flatSamples()).reshape(n, 7)
        for size in (7, 64):
            batch = JList()
            for s in spectra[:size]:
                batch.add(s)
            got = np.array(js.sample(batch, n, jlong(seed)).get(5).flatSamples()).reshape(n, 7)
            assert np.array_equal(got, api_alone), size
    assert np.array_equal(api_alone, j_draws)

    # the Python engine: infer_csv alone and in the big file; the API alone and in batches of 7 and 64
    p_out = {}
    for tag, src in (("alone", alone), ("big", big)):
        infer_csv(bundle, src, tmp_path / f"p-{tag}.csv", n_samples=n, seed=seed, progress=False,
                  samples_out=tmp_path / f"pd-{tag}.csv")
        p_out[tag] = (next(r for r in read_summary_csv(tmp_path / f"p-{tag}.csv") if r["source_id"] == star_id),
                      _rows_of(tmp_path / f"pd-{tag}.csv", star_id))
    assert p_out["alone"] == p_out["big"]
    p_draws = np.array([[float(v) for v in line.split(",")[2:]] for line in p_out["alone"][1]])
    py = PosteriorSampler(bundle)
    f32, e32 = flux[rows[:64]].astype(np.float32), sigma[rows[:64]].astype(np.float32)
    assert np.array_equal(py.sample(f32[5:6], e32[5:6], n, seed, source_ids=[star_id])[0], p_draws)
    for size in (7, 64):
        assert np.array_equal(py.sample(f32[:size], e32[:size], n, seed, source_ids=ids[:size])[5], p_draws), size

    # the engines agree (to float32 round-off of the network outputs, as everywhere)
    assert np.max(np.abs(j_draws - p_draws) / SPAN) <= 1e-5
    j_sum, p_sum = j_ref[0], p_out["alone"][0]
    assert [k for k in j_sum] == [k for k in p_sum]
    assert float(j_sum["gof_chi2"]) == pytest.approx(float(p_sum["gof_chi2"]), rel=1e-9)


def test_two_stars_draws_are_uncorrelated(java, default_spectra):
    """Paired by draw number, two stars' draws are independent in both engines (|r| < 0.1 at
    N = 2000, 4.5 standard errors); one stream for both (the old fixed key) correlates them."""
    import jpype

    bundle = ROOT / "export" / "default"
    flux, sigma = default_spectra
    n, ids = 2000, ["star-A", "star-B"]
    py = PosteriorSampler(bundle).sample(flux[3:5], sigma[3:5], n, 9, source_ids=ids)
    shared = PosteriorSampler(bundle).sample(flux[3:5], sigma[3:5], n, 9, source_keys=[0, 0])
    JList = jpype.JClass("java.util.ArrayList")
    batch = JList()
    for s in java_spectra(java, flux[3:5], sigma[3:5], ids):
        batch.add(s)
    with java.PosteriorSampler.open(str(bundle)) as js:
        jv = [np.array(r.flatSamples()).reshape(n, 7) for r in js.sample(batch, n, 9)]

    def worst(a, b):
        return max(abs(np.corrcoef(a[:, k], b[:, k])[0, 1]) for k in range(7))

    assert worst(py[0], py[1]) < 0.1
    assert worst(jv[0], jv[1]) < 0.1
    assert worst(shared[0], shared[1]) > 0.3


def _load_errors(java, d):
    """The messages with which Python and Java refuse the bundle in ``d``."""
    import jpype

    from xpcvae.bundle import BundleError, ModelBundle

    with pytest.raises(BundleError) as p_err:
        ModelBundle.load(d)
    with pytest.raises(jpype.JClass("org.xpcvae.BundleException")) as j_err:
        java.ModelBundle.load(jpype.JClass("java.nio.file.Path").of(str(d)))
    return str(p_err.value), str(j_err.value.getMessage())


def test_both_engines_refuse_bad_bundles_in_the_same_words(java, tiny_bundle, tmp_path):
    import hashlib
    import json
    import re
    import shutil

    from xpcvae.bundle import write_manifest

    def copy(name):
        d = tmp_path / name
        shutil.copytree(tiny_bundle.root, d)
        return d

    # Teff's upper bound edited from 7000 to 7500, the checksum file as exported
    d = copy("edited")
    mf = d / "manifest.json"
    before = hashlib.sha256(mf.read_bytes()).hexdigest()
    mf.write_text(re.sub(r'"high": 7000(\.0)?,', '"high": 7500.0,', mf.read_text(), count=1))
    after = hashlib.sha256(mf.read_bytes()).hexdigest()
    p_msg, j_msg = _load_errors(java, d)
    assert p_msg == j_msg == (f"bundle {d}: checksum mismatch for manifest.json (manifest.json.sha256 {before}, "
                              f"file {after}): the manifest was changed after export")
    # ... with the checksum recomputed: the box itself is refused
    (d / "manifest.json.sha256").write_text(f"{after}  manifest.json\n")
    p_msg, j_msg = _load_errors(java, d)
    assert p_msg == j_msg == f"bundle {d}: bounds of teff are [3000.0, 7500.0], expected [3000.0, 7000.0]"
    # no checksum file
    (d / "manifest.json.sha256").unlink()
    p_msg, j_msg = _load_errors(java, d)
    assert p_msg == j_msg and "manifest.json.sha256 is missing" in p_msg

    edits = {
        "format1": lambda m: m.update(format_version=1, rng="splitmix64-counter-v2"),
        "string-version": lambda m: m.update(format_version="1"),
        "version3": lambda m: m.update(format_version=3),
        "outside": lambda m: m["files"]["r1_encoder"].update(path="../r1_encoder.onnx"),
    }
    want = {
        "format1": "upgrade it, networks unchanged, with the Python CLI: xpcvae upgrade-bundle",
        "string-version": 'format_version is "1", expected an integer (this version of xpcvae reads format_version 2)',
        "version3": "format_version 3 is not supported (this version of xpcvae reads format_version 2)",
        "outside": "files.r1_encoder.path '../r1_encoder.onnx' points outside the bundle",
    }
    for name, edit in edits.items():
        d = copy(name)
        shutil.copy(d / "r1_encoder.onnx", tmp_path / "r1_encoder.onnx")
        m = json.loads((d / "manifest.json").read_text())
        edit(m)
        write_manifest(d, m)
        p_msg, j_msg = _load_errors(java, d)
        assert p_msg == j_msg and p_msg.startswith(f"bundle {d}: ") and want[name] in p_msg, (name, p_msg, j_msg)
    # a format-1 bundle as exported then: no checksum file
    (tmp_path / "format1" / "manifest.json.sha256").unlink()
    p_msg, j_msg = _load_errors(java, tmp_path / "format1")
    assert p_msg == j_msg and "format_version 1 is an earlier bundle format" in p_msg


def test_upgraded_bundle_samples_as_a_fresh_export_in_java(java, tiny_bundle, noisy_test_spectra, tmp_path):
    import json
    import shutil

    import jpype

    from xpcvae.cli import main

    d = tmp_path / "old"
    shutil.copytree(tiny_bundle.root, d)
    m = json.loads((d / "manifest.json").read_text())
    m.update(format_version=1, rng="splitmix64-counter-v2")
    (d / "manifest.json").write_text(json.dumps(m, indent=2))
    (d / "manifest.json.sha256").unlink()
    assert main(["upgrade-bundle", str(d)]) == 0
    JList = jpype.JClass("java.util.ArrayList")
    batch = JList()
    for s in java_spectra(java, noisy_test_spectra.flux[:4], noisy_test_spectra.sigma[:4]):
        batch.add(s)
    draws = []
    for root in (tiny_bundle.root, d):
        with java.PosteriorSampler.open(str(root)) as js:
            draws.append([np.array(r.flatSamples()) for r in js.sample(batch, 100, 3)])
    assert all(np.array_equal(a, b) for a, b in zip(*draws))
def _read_table(path):
    from astropy.table import Table

    return Table.read(path, format="ascii.ecsv")


def _assert_equal_tables(a, b, rel=1e-12):
    """The same columns, types, units and descriptions, the same missing values, text equal (error messages up
    to the value they quote: the engines print numbers their own way), numbers equal to ``rel`` (NaN where NaN)."""
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for c in a.colnames:
        x, y = a[c], b[c]
        same_type = x.dtype.kind == y.dtype.kind == "U" or x.dtype == y.dtype  # text: any width
        assert same_type and (x.unit, x.description) == (y.unit, y.description), c
        assert np.array_equal(np.ma.getmaskarray(x), np.ma.getmaskarray(y)), c
        if c == "message":
            assert [m.split(" = ")[0] for m in x.filled("")] == [m.split(" = ")[0] for m in y.filled("")]
            continue
        if x.dtype.kind == "f":
            xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            assert np.array_equal(np.isnan(xv), np.isnan(yv)), c
            ok = ~np.isnan(xv)
            assert np.all(np.abs(xv[ok] - yv[ok]) <= rel * np.abs(yv[ok])), c
        else:
            assert list(np.ma.filled(x)) == list(np.ma.filled(y)), c


def test_java_and_python_ecsv_summaries_are_the_same_table(case, tmp_path):
    """`--out summary.ecsv` from both engines: astropy reads the same typed table, with units."""
    from astropy import units as u

    from xpcvae.cli import main
    from xpcvae.data.spectra_csv import write_spectra_csv

    bundle, flux, sigma = case
    f, e = flux[:10].copy(), sigma[:10].copy()
    e[3, 17] = -1.0
    f[7, 100] = np.nan
    spectra = tmp_path / "in.csv"
    write_spectra_csv(spectra, [f"src {i}" for i in range(len(f))], f, e)
    j_out, p_out = tmp_path / "java.ecsv", tmp_path / "python.ecsv"
    proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(bundle), "--input", str(spectra), "--out",
                           str(j_out), "--samples", "300", "--seed", "5"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "INFO" not in proc.stderr
    assert main(["infer", "--bundle", str(bundle), "--input", str(spectra), "--out", str(p_out),
                 "--samples", "300", "--seed", "5"]) == 1
    j, p = _read_table(j_out), _read_table(p_out)
    _assert_equal_tables(j, p)
    assert j["teff_median"].unit == u.K and j["mass_p84"].unit == u.Msun and j["log_mdot_median"].unit == u.dex(
        u.Msun / u.yr)
    assert list(j["status"]) == ["ok"] * 3 + ["error"] + ["ok"] * 3 + ["error"] + ["ok"] * 2
    assert j["gof_chi2"].mask[3] and j["ood_flag"].mask[3] and j["n_samples"].mask[3] and j["teff_p16"].mask[3]
    assert j["gof_chi2"].dtype == np.float64 and j["ood_flag"].dtype == np.int16 and j["n_samples"].dtype == np.int32


def test_java_engine_ecsv_of_an_archive_file_with_read_errors(tmp_path):
    """`xpcvae infer --engine java --out x.ecsv` on Gaia archive XP continuous spectra: the reader's message of
    the source without BP comes back in the ECSV, which equals the Python engine's."""
    from xpcvae.cli import main

    src = ROOT / "tests" / "data" / "gaia-archive" / "XP_CONTINUOUS_RAW_with_missing_BP.csv"
    bundle = str(ROOT / "export" / "default")
    j_out, p_out = tmp_path / "java.ecsv", tmp_path / "python.ecsv"
    args = ["infer", "--bundle", bundle, "--input", str(src), "--samples", "200", "--seed", "3", "--threads", "2"]
    assert main(args + ["--engine", "java", "--out", str(j_out)]) == 1
    assert main(args + ["--engine", "python", "--out", str(p_out)]) == 1
    j, p = _read_table(j_out), _read_table(p_out)
    _assert_equal_tables(j, p)
    assert list(j["status"]) == ["ok", "error", "ok"] and "BP missing" in j["message"][1]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["java.ecsv", "python.ecsv"]


def test_the_verify_parity_check_agrees_with_these_tests(java, case):
    """`xpcvae verify`'s Python/Java draw comparison, on the same JVM: it passes on both bundles."""
    from xpcvae.bundle import ModelBundle
    from xpcvae.verify.java_parity import java_parity

    bundle, _, _ = case
    check = java_parity(ModelBundle.load(bundle), required=True, n=12, samples=500)
    assert check.status == "pass", check
    assert check.value <= 1e-12
