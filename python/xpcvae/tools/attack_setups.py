"""The attack catalogue's bad bundles, output paths, signals during a run and odd options
(:mod:`xpcvae.tools.attack_cases`)."""

from __future__ import annotations

import shutil
import signal

from xpcvae.tools.attack_kit import (N_ROWS, Case, Expect, Work, _dir, _drop_forward_model, _file, _fix_checksum,
                                     _flip_byte, _graph, _hardlink, _manifest, _remove, _set, _symlink, _truncate,
                                     fails, ok)

def bundle_cases() -> list[Case]:
    def b(name, what, edit, expect, note="", fix_manifest_checksum=True):
        return Case(name, "bundle", what, lambda w: w.args(bundle=w.bundle_copy(edit, fix_manifest_checksum)),
                    expect, note=note)

    return [
        Case("bundle-missing", "bundle", "--bundle names no directory",
             lambda w: w.args(bundle=w.root / "nobundle"), fails("nobundle")),
        Case("bundle-is-file", "bundle", "--bundle is a file", lambda w: w.args(bundle=_file(w, "bfile")),
             fails("bfile")),
        Case("bundle-empty-dir", "bundle", "an empty directory", lambda w: w.args(bundle=_dir(w, "bempty")),
             fails("manifest.json")),
        b("manifest-not-json", "manifest.json is not JSON",
          lambda d: (d / "manifest.json").write_text("not json {"), fails("manifest")),
        b("manifest-truncated", "manifest.json cut in half",
          lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text()[:200]), fails("manifest")),
        b("manifest-empty-object", "manifest.json is {}", lambda d: (d / "manifest.json").write_text("{}"),
          fails("manifest", "format_version", "missing")),
        b("manifest-array", "manifest.json is a JSON array", lambda d: (d / "manifest.json").write_text("[]"),
          fails("manifest", "object")),
        b("format-version-3", "format_version 3 (a later format)", _manifest(_set("format_version", 3)),
          fails("format_version 3", "not supported")),
        b("format-version-1", "format_version 1 (keyed by row number)", _manifest(_set("format_version", 1)),
          fails("format_version 1", "upgrade-bundle")),
        b("manifest-edited-after-export", "manifest.json edited, its checksum file not",
          _manifest(_set("description", "edited")), fails("checksum mismatch", "manifest.json"),
          fix_manifest_checksum=False),
        b("manifest-checksum-missing", "manifest.json.sha256 deleted", lambda d: (d / "manifest.json.sha256").unlink(),
          fails("manifest.json.sha256", "missing"), fix_manifest_checksum=False),
        b("manifest-checksum-garbage", "manifest.json.sha256 is not a sha256sum line",
          lambda d: (d / "manifest.json.sha256").write_text("nonsense\n"), fails("manifest.json.sha256", "sha256sum"),
          fix_manifest_checksum=False),
        b("format-version-string", "format_version \"1\" (a string)", _manifest(_set("format_version", "1")),
          fails("format_version")),
        b("format-version-missing", "no format_version", _manifest(_set("format_version", ...)),
          fails("format_version")),
        b("checksum-mismatch", "a byte of decoder_sample.onnx flipped", _flip_byte("decoder_sample"),
          fails("checksum mismatch")),
        b("graph-missing", "r1_encoder.onnx deleted", _remove("r1_encoder"), fails("r1_encoder")),
        b("graph-truncated", "decoder_context.onnx truncated, its checksum fixed",
          _truncate("decoder_context"), fails("cannot load")),
        b("graph-swapped", "the encoder's file replaced by the decoder's, checksum fixed",
          lambda d: (shutil.copy(_graph(d, "decoder_sample"), _graph(d, "r1_encoder")), _fix_checksum(d, "r1_encoder")),
          fails("r1_encoder")),
        b("files-missing", "no files table", _manifest(_set("files", ...)), fails("files")),
        b("file-outside-bundle", "files.r1_encoder.path = ../r1_encoder.onnx (outside the bundle)",
          lambda d: (shutil.copy(_graph(d, "r1_encoder"), d.parent / "r1_encoder.onnx"),
                     _manifest(_set("files.r1_encoder.path", "../r1_encoder.onnx"))(d)),
          fails("outside", "r1_encoder"), note="a bundle is one directory"),
        b("wavelength-shifted", "wavelength_nm shifted by 6 nm",
          _manifest(lambda m: m.__setitem__("wavelength_nm", [v + 6 for v in m["wavelength_nm"]])),
          fails("wavelength")),
        b("wavelength-short", "wavelength_nm one sample short",
          _manifest(lambda m: m.__setitem__("wavelength_nm", m["wavelength_nm"][:-1])), fails("wavelength")),
        b("gof-threshold-negative", "goodness_of_fit.threshold = -1",
          _manifest(_set("goodness_of_fit.threshold", -1)), fails("threshold")),
        b("gof-not-object", "goodness_of_fit is a string", _manifest(_set("goodness_of_fit", "strict")),
          fails("goodness_of_fit")),
        b("no-forward-model", "no forward_model graph (an older bundle)", _drop_forward_model,
          ok(), note="gof_chi2 left empty by the Java engine; the Python engine computes it with NumPy"),
        b("prior-box-inverted", "a parameter's low above its high",
          _manifest(lambda m: m["parameters"][0].update(low=m["parameters"][0]["high"] + 1)
                    if isinstance(m.get("parameters"), list) and isinstance(m["parameters"][0], dict)
                    else m.__setitem__("parameters", "broken")),
          fails("parameter", "low", "teff", "box")),
    ]


def output_cases() -> list[Case]:
    same = "writing it would destroy the spectra"
    twice = "one output would overwrite the other"
    return [
        Case("out-is-input", "output", "--out is the --input file",
             lambda w: w.args(input=(i := w.spectra()), out=i), fails(same)),
        Case("out-symlink-to-input", "output", "--out is a symbolic link to the input",
             lambda w: w.args(input=(i := w.spectra()), out=_symlink(w, "link.csv", i)), fails(same)),
        Case("out-hardlink-to-input", "output", "--out is a hard link to the input",
             lambda w: w.args(input=(i := w.spectra()), out=_hardlink(w, "hard.csv", i)), fails(same)),
        Case("out-alias-of-input", "output", "--out is the input under another spelling (sub/../in.csv)",
             lambda w: w.args(input=(i := w.spectra()), out=_dir(w, "sub") / ".." / "in.csv"), fails(same)),
        Case("out-in-symlinked-dir", "output", "--out is the input through a symbolic link to its directory",
             lambda w: w.args(input=(i := w.spectra(name="data/in.csv")),
                              out=_symlink(w, "alias", w.root / "data") / "in.csv"), fails(same)),
        Case("samples-out-is-input", "output", "--samples-out is the --input file",
             lambda w: w.args(input=(i := w.spectra()), samples_out=i), fails(same)),
        Case("samples-out-symlink-to-input", "output", "--samples-out is a symbolic link to the input",
             lambda w: w.args(input=(i := w.spectra()), samples_out=_symlink(w, "link.csv", i)), fails(same)),
        Case("samples-out-is-out", "output", "--samples-out equals --out",
             lambda w: w.args(out=w.root / "o.csv", samples_out=w.root / "o.csv"), fails(twice)),
        Case("samples-out-alias-of-out", "output", "--samples-out is --out spelt ./o.csv",
             lambda w: w.args(out=w.root / "o.csv", samples_out=w.root / "." / "o.csv"), fails(twice)),
        Case("samples-out-hardlink-to-out", "output", "--samples-out is a hard link to an existing --out",
             lambda w: w.args(out=(o := _file(w, "o.csv", b"old\n")), samples_out=_hardlink(w, "h.csv", o)),
             fails(twice)),
        Case("samples-out-dangling-link-to-out", "output",
             "--samples-out is a symbolic link to the --out that does not exist yet",
             lambda w: w.args(out=w.root / "o.csv", samples_out=_symlink(w, "l.csv", w.root / "o.csv")), fails(twice)),
        Case("out-is-bundle-manifest", "output", "--out is the bundle's manifest.json",
             lambda w: w.args(bundle=(b := w.bundle_copy()), out=b / "manifest.json"),
             fails("would damage the bundle")),
        Case("samples-out-is-bundle-graph", "output", "--samples-out is a graph of the bundle (through a link)",
             lambda w: w.args(bundle=(b := w.bundle_copy()),
                              samples_out=_symlink(w, "g.onnx", _graph(b, "r1_encoder"))),
             fails("would damage the bundle")),
        Case("out-new-file-in-bundle-dir", "output", "--out is a new file inside the bundle directory",
             lambda w: w.args(bundle=(b := w.bundle_copy()), out=b / "summary.csv"), ok()),
        Case("out-is-directory", "output", "--out is a directory", lambda w: w.args(out=_dir(w, "odir")),
             fails("is a directory")),
        Case("samples-out-is-directory", "output", "--samples-out is a directory",
             lambda w: w.args(samples_out=_dir(w, "sdir")), fails("is a directory")),
        Case("out-parent-is-file", "output", "--out's directory is a file",
             lambda w: w.args(out=_file(w, "afile") / "o.csv"), fails("is not a directory")),
        Case("samples-out-parent-is-file", "output", "--samples-out's directory is a file: no summary either",
             lambda w: w.args(samples_out=_file(w, "afile") / "d.csv"), fails("cannot write the samples CSV")),
        Case("out-name-too-long", "output", "--out's file name has 300 characters",
             lambda w: w.args(out=w.root / ("x" * 300 + ".csv")), fails("cannot write the summary CSV", "too long")),
        Case("samples-out-name-too-long", "output", "--samples-out's file name has 300 characters: no summary",
             lambda w: w.args(samples_out=w.root / ("x" * 300 + ".csv")), fails("cannot write the samples CSV")),
        Case("out-new-nested-dirs", "output", "--out in directories that do not exist yet",
             lambda w: w.args(out=w.root / "a" / "b" / "c" / "o.csv"), ok()),
        Case("out-replaces-file", "output", "--out exists (an earlier summary): replaced",
             lambda w: w.args(out=_file(w, "o.csv", b"earlier\n")), ok()),
        Case("out-symlink-elsewhere", "output", "--out is a symbolic link to another file: the link is replaced",
             lambda w: w.args(out=_symlink(w, "o.csv", _file(w, "other.csv", b"other\n"))),
             Expect((0,), (), True, None, N_ROWS), note="the file it pointed to is left alone"),
        Case("both-outputs", "output", "--out and --samples-out, both written",
             lambda w: w.args(samples_out=w.root / "draws.csv"), ok()),
        Case("out-unicode-name", "output", "--out with spaces and non-ASCII letters",
             lambda w: w.args(out=w.root / "résumé final ☆.csv"), ok()),
        Case("out-relative", "output", "--out and --input relative to the working directory",
             lambda w: (w.spectra(), w.args(input="in.csv", out="rel/o.csv"))[1], ok(), runner="process"),
        Case("samples-out-relative-alias", "output", "--samples-out x/../o.csv with --out o.csv (relative)",
             lambda w: (_dir(w, "x"), w.args(out="o.csv", samples_out="x/../o.csv"))[1], fails(twice),
             runner="process"),
        Case("draws-exceed-file-size-limit", "output",
             "the draws grow beyond the file-size limit (as on a full disk): no summary either",
             lambda w: w.args(samples_out=w.root / "draws.csv", samples=None),
             fails("cannot write the samples CSV", "file too large"), runner="process", limit_fsize=True),
    ]


def signal_cases() -> list[Case]:
    stopped = "interrupted by"
    S = signal
    return [
        Case("sigint", "signal", "Ctrl-C (SIGINT) while writing", lambda w: w.args(samples=None, extra=_LONG),
             fails(stopped, rc=130), runner="process", signal=(S.SIGINT,)),
        Case("sigterm", "signal", "SIGTERM while writing", lambda w: w.args(samples=None, extra=_LONG),
             fails(stopped, rc=143), runner="process", signal=(S.SIGTERM,)),
        Case("sighup", "signal", "SIGHUP (the terminal closes) while writing",
             lambda w: w.args(samples=None, extra=_LONG), fails(stopped, rc=129), runner="process",
             signal=(S.SIGHUP,)),
        Case("sigint-with-draws", "signal", "SIGINT while writing the summary and the draws",
             lambda w: w.args(samples_out=w.root / "draws.csv", samples=None, extra=_LONG),
             fails(stopped, rc=130), runner="process", signal=(S.SIGINT,)),
        Case("sigint-twice", "signal", "SIGINT twice in a row", lambda w: w.args(samples=None, extra=_LONG),
             fails(stopped, rc=130), runner="process", signal=(S.SIGINT, S.SIGINT)),
        Case("sigterm-keeps-earlier-output", "signal", "SIGTERM while replacing an earlier summary: it is kept",
             lambda w: w.args(out=_file(w, "summary.csv", b"earlier\n"), samples=None, extra=_LONG),
             fails(stopped, rc=143), runner="process", signal=(S.SIGTERM,)),
        Case("sigterm-at-start", "signal", "SIGTERM 0.3 s after the start (loading)",
             lambda w: w.args(samples=None, extra=_LONG), Expect((143,)), runner="process",
             signal=(S.SIGTERM,), signal_at="start", note="the message may come before the handlers are set"),
    ]


#: a run long enough to be interrupted: 100 000 draws for each of the rows
_LONG = ("--samples", "100000")


def option_cases() -> list[Case]:
    invalid = ("invalid", "must be")
    return [
        Case("samples-zero", "option", "--samples 0", lambda w: w.args(samples="0"), fails(">= 1", "between 1 and")),
        Case("samples-negative", "option", "--samples -5", lambda w: w.args(samples="-5"),
             fails(">= 1", "between 1 and")),
        Case("samples-text", "option", "--samples abc", lambda w: w.args(samples="abc"), fails(*invalid)),
        Case("samples-float", "option", "--samples 1.5", lambda w: w.args(samples="1.5"), fails(*invalid)),
        Case("samples-one", "option", "--samples 1 (every percentile the one draw)", lambda w: w.args(samples="1"),
             ok()),
        Case("samples-beyond-int", "option", "--samples 2147483648", lambda w: w.args(samples="2147483648"),
             fails("not an int", "between 1 and 2147483647"), note="more draws than a Java int"),
        Case("seed-negative", "option", "--seed -1 (seeds are unsigned)", lambda w: w.args(extra=("--seed", "-1")),
             fails("seed -1 is not an integer in 0..18446744073709551615")),
        Case("seed-max-unsigned", "option", "--seed 18446744073709551615 (2^64 - 1)",
             lambda w: w.args(extra=("--seed", "18446744073709551615")), ok()),
        Case("seed-beyond-64-bit", "option", "--seed 2^64", lambda w: w.args(extra=("--seed", str(2**64))),
             fails(f"seed {2**64} is not an integer in 0..18446744073709551615")),
        Case("seed-text", "option", "--seed abc", lambda w: w.args(extra=("--seed", "abc")),
             fails("seed abc is not an integer in 0..18446744073709551615")),
        Case("missing-out", "option", "no --out",
             lambda w: [a for a in w.args() if a != str(w.root / "summary.csv") and a != "--out"],
             fails("--out", "required")),
        Case("missing-input", "option", "no --input",
             lambda w: ["--bundle", str(w.bundle), "--out", str(w.root / "summary.csv")], fails("--input", "required")),
        Case("missing-bundle", "option", "no --bundle",
             lambda w: ["--input", str(w.spectra()), "--out", str(w.root / "summary.csv")],
             fails("--bundle", "required")),
        Case("unknown-option", "option", "--frobnicate", lambda w: w.args(extra=("--frobnicate",)),
             fails("unrecognized", "unknown")),
        Case("extra-positional", "option", "a stray positional argument", lambda w: w.args(extra=("stray",)),
             fails("unrecognized", "unmatched")),
        Case("empty-out", "option", "--out ''", lambda w: w.args(out=""), fails("is a directory", "--out")),
        Case("empty-input", "option", "--input ''", lambda w: w.args(input=""), fails("directory", "--input")),
        Case("empty-samples-out", "option", "--samples-out ''", lambda w: w.args(samples_out=""),
             fails("is a directory", "--samples-out")),
        Case("out-twice", "option", "--out given twice", _out_twice,
             {"python": ok(), "java": fails("only once", "--out")},
             note="argparse keeps the last --out (second.csv is written), picocli refuses a repeated option"),
    ]


def _out_twice(w: Work) -> list[str]:
    argv = w.args(extra=("--out", str(w.root / "second.csv")))
    w.outputs = [w.root / "second.csv"]  # the one argparse keeps
    return argv
