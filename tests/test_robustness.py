"""Bad inputs on the Python side: property and fuzz tests of the readers, batch mode.

* :func:`xpcvae.data.spectra_csv.read_spectra_csv` on arbitrary bytes and on randomly damaged
  spectra files raises nothing but :class:`SpectraFileError` (a file unusable as a whole) and
  otherwise returns exactly one row per non-blank line, each a spectrum or an error naming the
  source (or row) -- the same contract as the Java reader (``RobustnessTest``).
* :func:`xpcvae.infer.sampler.check_spectrum` raises nothing but :class:`InvalidSpectrumError`, and
  what it accepts satisfies every documented condition.
* :func:`xpcvae.infer.batch.infer_csv` writes exactly one summary row per input row, an error
  row naming the source and the problem for each bad one.
* Bundles: another format version, a checksum mismatch, a truncated graph are refused with
  :class:`BundleError` naming the bundle (manifests edited here are rewritten with their checksum
  file, :func:`xpcvae.bundle.write_manifest`, so that the other checks are reached).

Runs in well under 30 s (a random-weight bundle of a small architecture: only the plumbing
is under test).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xpcvae.bundle import BundleError, ModelBundle, write_manifest
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, check_spectrum
from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS, SpectraFileError, read_spectra_csv, write_spectra_csv
from xpcvae.forward.instrument import WAVELENGTH

N_WAVE = WAVELENGTH.size
HEADER = ",".join(["source_id", *FLUX_COLS, *ERR_COLS])
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_fields(i: int) -> list[str]:
    w = np.arange(N_WAVE)
    flux = 1e-17 * (1.2 + np.sin(w / 40.0 + i))
    return [f"s{i}", *[repr(float(v)) for v in flux], *[repr(float(v)) for v in 0.03 * flux]]


def _check_rows(rows, expected_rows: int):
    assert len(rows) == expected_rows
    for i, r in enumerate(rows):
        if r.error is None:
            assert r.flux is not None and r.flux.shape == (N_WAVE,)
            assert r.flux_error is not None and r.flux_error.shape == (N_WAVE,)
        else:
            assert r.flux is None and r.flux_error is None
            assert r.error.startswith(("source ", "row ")), r.error


def _blank(b: bytes) -> bool:
    """A blank line of the grammar (docs/formats.md): empty or spaces and tabs only."""
    return not b.translate(None, b" \t")


# -- the spectra CSV reader ----------------------------------------------------------------------

@FUZZ
@given(content=st.binary(max_size=3000))
def test_arbitrary_bytes(tmp_path_factory, content):
    f = tmp_path_factory.mktemp("bytes") / "x.csv"
    f.write_bytes(content)
    try:
        rows = read_spectra_csv(f)
    except SpectraFileError as exc:
        assert str(f) in str(exc)
        return
    assert all(r.error is not None or r.flux.shape == (N_WAVE,) for r in rows)


TOKENS = ["nan", "-inf", "inf", "", " ", "abc", "1e400", "-0", "0", "-1", "0x1p3", "1_0", "١٢", '"', '"1"', "\x00",
          "1,5", "1e", ".", "\u00e9"]

line_damage = st.one_of(
    st.just(("intact", None)),
    st.tuples(st.just("token"), st.tuples(st.integers(0, 2 * N_WAVE), st.sampled_from(TOKENS))),
    st.tuples(st.just("number"), st.tuples(st.integers(1, 2 * N_WAVE), st.floats(allow_nan=True, allow_infinity=True))),
    st.tuples(st.just("drop"), st.integers(0, 2 * N_WAVE)),
    st.tuples(st.just("add"), st.integers(0, 2 * N_WAVE)),
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.binary(max_size=80)),
    st.tuples(st.just("splice"), st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=6))),
    st.just(("blank", None)),
)


def _damaged_line(i: int, damage) -> bytes:
    kind, arg = damage
    f = _valid_fields(i)
    if kind == "token":
        f[arg[0]] = arg[1]
    elif kind == "number":
        f[arg[0]] = repr(arg[1])
    elif kind == "drop":
        del f[arg]
    elif kind == "add":
        f.insert(arg, "1.0")
    elif kind == "blank":
        return b"  "
    line = ",".join(f).encode()
    if kind == "truncate":
        return line[: int(arg * len(line))]
    if kind == "bytes":
        return arg.replace(b"\n", b"x").replace(b"\r", b"x")
    if kind == "splice":
        at = int(arg[0] * len(line))
        return line[:at] + arg[1].replace(b"\n", b"x").replace(b"\r", b"x") + line[at:]
    return line


@FUZZ
@given(damages=st.lists(line_damage, max_size=8), eols=st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]),
                                                                   min_size=9, max_size=9))
def test_damaged_rows_give_one_row_each(tmp_path_factory, damages, eols):
    lines = [_damaged_line(i, d) for i, d in enumerate(damages)]
    body = HEADER.encode() + b"".join(eols[i] + line for i, line in enumerate(lines))
    f = tmp_path_factory.mktemp("rows") / "x.csv"
    f.write_bytes(body)
    rows = read_spectra_csv(f)
    _check_rows(rows, sum(not _blank(line) for line in lines))
    for r, d in zip([r for r, line in zip(rows, [x for x in lines if not _blank(x)])], [d for d, x in zip(damages, lines) if not _blank(x)]):
        if d[0] == "intact":
            assert r.error is None
            check_spectrum(r.flux, r.flux_error, r.source_id)


@pytest.mark.parametrize("header, message", [
    ("", "no header line (the file is empty or blank"),
    ("source_id,flux_0,flux_error_0", "header lacks columns flux_1, flux_2"),
    (HEADER.replace("source_id", "id"), "header lacks column source_id"),
    (HEADER + ",flux_343,flux_error_343", "344 samples per spectrum"),
    (HEADER + ",flux_7", "header has column flux_7 more than once"),
])
def test_unusable_files(tmp_path, header, message):
    f = tmp_path / "x.csv"
    f.write_text(header + ("\n" + ",".join(_valid_fields(0)) if header else ""))
    with pytest.raises(SpectraFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_spectra_csv(f)


# -- check_spectrum ----------------------------------------------------------------------------

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e-15, 1e-15), st.just(0.0))


@settings(max_examples=200, deadline=None)
@given(n=st.sampled_from([0, 1, 342, 343, 344]), data=st.data())
def test_check_spectrum_raises_only_invalid_spectrum_error(n, data):
    flux = np.array(data.draw(st.lists(values, min_size=n, max_size=n)) if n < 343 or data.draw(st.booleans())
                    else np.abs(data.draw(st.lists(values, min_size=n, max_size=n))), dtype=float)
    if n == 343 and data.draw(st.booleans()):
        flux = np.abs(np.nan_to_num(flux)) + 1e-18  # mostly valid spectra
    err = np.array(data.draw(st.lists(values, min_size=n, max_size=n)), dtype=float)
    if n == 343 and data.draw(st.booleans()):
        err = np.abs(np.nan_to_num(err)) + 1e-20
    sid = data.draw(st.text(max_size=10))
    try:
        f32, e32 = check_spectrum(flux, err, sid)
    except InvalidSpectrumError as exc:
        assert str(exc).startswith(f"source {sid}: ")
        return
    assert f32.dtype == np.float32 and f32.shape == (343,) and e32.shape == (343,)
    assert np.isfinite(f32).all() and np.isfinite(e32).all() and (e32 > 0).all() and f32.astype(float).mean() > 0
    assert np.isfinite(flux).all() and np.isfinite(err).all() and (err > 0).all()


# -- batch mode: one output row per input row ------------------------------------------------------

@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    import torch

    from xpcvae.export.networks import export_model
    from xpcvae.train.model import CVAE, CVAEConfig

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bundle") / "small"
    cfg = CVAEConfig(mixture_components=2, trunk_widths=(32,), context_size=16, head_widths=(16,))
    bundle, _ = export_model(CVAE(cfg).eval(), out)
    return bundle.root


def _spectra(n):
    from xpcvae import params
    from xpcvae.forward import ForwardModel
    from xpcvae.simulate.noise import NoiseModel

    theta = params.from_unit(np.random.default_rng(3).random((n, params.NDIM)))
    flux, _ = ForwardModel().spectra(theta)
    return flux, np.asarray(NoiseModel.default().sigma(flux, 15.0))


def test_infer_csv_bad_rows_become_error_rows(small_bundle, tmp_path):
    from xpcvae.infer.batch import infer_csv
    from xpcvae.data.spectra_csv import read_summary_csv

    flux, err = _spectra(12)
    ids = ["good0", "nan-flux", "inf-flux", "zero-err", "neg-err", "all-zero", "inf-err", "good1",
           "short", "long", "text", "empty"]
    flux[1, 40] = np.nan
    flux[2, 41] = np.inf
    err[3, 7] = 0.0
    err[4, 8] = -1e-19
    flux[5] = 0.0
    err[6, 9] = np.inf
    src = tmp_path / "in.csv"
    write_spectra_csv(src, ids, flux, err)
    lines = src.read_text().splitlines()
    lines[9] = lines[9].rsplit(",", 1)[0]          # short: a field missing
    lines[10] = lines[10] + ",1.0"                   # long: a field too many
    f = lines[11].split(",")
    f[3] = "1.2.3"
    lines[11] = ",".join(f)                          # text: not a number
    f = lines[12].split(",")
    f[400] = ""
    lines[12] = ",".join(f)                          # empty field
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "summary.csv"
    ok, failed = infer_csv(small_bundle, src, out, n_samples=40, seed=1, progress=False)
    assert (ok, failed) == (2, 10)
    rows = read_summary_csv(out)
    assert [r["source_id"] for r in rows] == ids  # one row per input row, in order
    expected = {"nan-flux": "flux[40] = nan is not finite", "inf-flux": "flux[41] = inf is not finite",
                "zero-err": "flux_error[7] = 0 is not positive", "neg-err": "flux_error[8] = -1e-19 is not positive",
                "all-zero": "mean flux is 0", "inf-err": "flux_error[9] = inf is not finite",
                "short": "fields, the header has", "long": "fields, the header has",
                "text": "flux_2 = '1.2.3' is not a number", "empty": "flux_error_56 is empty"}
    for r in rows:
        if r["source_id"].startswith("good"):
            assert r["status"] == "ok"
        else:
            assert r["status"] == "error"
            assert r["message"].startswith(f"source {r['source_id']}: "), r["message"]
            assert expected[r["source_id"]] in r["message"], r["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "summary.csv"]  # no temporary file left


# -- bundles ---------------------------------------------------------------------------------------

def _copy(bundle, tmp_path):
    import shutil

    dst = tmp_path / "b"
    shutil.copytree(bundle, dst)
    return dst


def test_bundle_of_another_version_or_corrupted(small_bundle, tmp_path):
    b = _copy(small_bundle, tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    write_manifest(b, {**m, "format_version": 3})
    with pytest.raises(BundleError, match="format_version 3 is not supported"):
        ModelBundle.load(b)
    write_manifest(b, m)
    g = b / m["files"]["decoder_sample"]["path"]
    data = bytearray(g.read_bytes())
    data[len(data) // 2] ^= 1
    g.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch for decoder_sample.onnx"):
        ModelBundle.load(b)
    # a truncated graph whose manifest checksum was "fixed": ONNX Runtime refuses it
    from xpcvae.bundle import sha256_of

    g.write_bytes(bytes(data[:200]))
    m["files"]["decoder_sample"]["sha256"] = sha256_of(g)
    write_manifest(b, m)
    with pytest.raises(BundleError, match="cannot load decoder_sample.onnx"):
        PosteriorSampler(b)


def test_bundle_on_another_wavelength_grid_is_refused(small_bundle, tmp_path):
    from xpcvae.infer.batch import infer_csv

    b = _copy(small_bundle, tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    m["wavelength_nm"] = [w + 6.0 for w in m["wavelength_nm"]]
    write_manifest(b, m)
    flux, err = _spectra(2)
    src = tmp_path / "in.csv"
    write_spectra_csv(src, ["a", "b"], flux, err)
    with pytest.raises((SpectraFileError, BundleError, ValueError)):
        infer_csv(b, src, tmp_path / "out.csv", n_samples=10, progress=False)


def test_summary_rows_parse_back(tmp_path):
    """csv quoting of messages with commas and quotes keeps the column count."""
    from xpcvae.data.spectra_csv import summary_header, summary_row, write_summary_csv

    rows = [summary_row('a,"b"', None, 10, error='source a,"b": row 0 (line 2) has 3 fields, the header has 687')]
    write_summary_csv(tmp_path / "s.csv", rows)
    with open(tmp_path / "s.csv", newline="") as fh:
        got = list(csv.reader(fh))
    assert len(got) == 2 and len(got[1]) == len(summary_header())
