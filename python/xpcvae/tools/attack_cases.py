"""The cases of the attack catalogue (:mod:`xpcvae.tools.attack_catalogue` runs them): bad spectra
files and rows, bad bundles, output paths, signals during a run and odd options, each with what
it expects of each engine (:class:`Expect`) and how it makes its files (:class:`Work`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS
from xpcvae.tools.harness import ROOT

ENGINES = ("python", "java")
#: samples per source in every case that runs to the end (the plumbing is under test, not the numbers)
SAMPLES = "20"
#: rows of the default spectra file
N_ROWS = 4
GROUPS = {"input": "bad spectra files and rows", "bundle": "bad model bundles",
          "output": "output paths", "signal": "signals during a run", "option": "odd options"}


@dataclass(frozen=True)
class Expect:
    """What an engine must do. ``rc``: accepted exit statuses; ``says``: the message (stderr)
    contains one of these (case-insensitive); ``outputs``: the outputs exist afterwards (else no
    new file at all); ``row``: the summary has an error row whose message contains this;
    ``rows``: the number of summary rows (one per input row)."""

    rc: tuple[int, ...]
    says: tuple[str, ...] = ()
    outputs: bool = False
    row: str | None = None
    rows: int | None = None


def fails(*says: str, rc: int = 2) -> Expect:
    """Refused as a whole: exit 2, a message containing one of ``says``, no output."""
    return Expect((rc,), says)


def ok(rows: int = N_ROWS) -> Expect:
    """Every row ok: exit 0, the outputs written, ``rows`` summary rows."""
    return Expect((0,), (), True, None, rows)


def bad_row(*row: str, rows: int = N_ROWS) -> Expect:
    """One row (or more) an error row whose message contains ``row[0]``, the others ok: exit 1, outputs written."""
    return Expect((1,), ("sources failed",), True, row[0] if row else None, rows)


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    what: str
    build: Callable[["Work"], list[str]]        # makes the files; the arguments after `infer`
    expect: Expect | dict                        # one for both engines, or per engine (a documented difference)
    runner: str = "inprocess"                    # or "process"
    signal: tuple[int, ...] = ()                 # signals sent during the run ("process" only)
    signal_at: str = "writing"                   # "writing": once the temporary outputs exist; "start": at 0.3 s
    limit_fsize: bool = False                    # run under a file-size limit the draws exceed ("process" only)
    note: str = ""

    def expected(self, engine: str) -> Expect:
        return self.expect[engine] if isinstance(self.expect, dict) else self.expect


# -- the files of a case ----------------------------------------------------------------------------

@dataclass
class Work:
    """A case's directory, the good spectra and the bundle; helpers that make the files of a case."""

    root: Path
    bundle: Path
    engine: str
    lines: list[str] = field(default_factory=list)   # a good spectra file, header first
    outputs: list[Path] = field(default_factory=list)

    def spectra(self, edit=None, name: str = "in.csv", rows: int = N_ROWS, text: str | None = None) -> Path:
        """A spectra file of ``rows`` good rows; ``edit(lines)`` changes its lines (header first) in place."""
        lines = [self.lines[0]] + [self.lines[1 + i % (len(self.lines) - 1)] for i in range(rows)]
        if edit is not None:
            edit(lines)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text is not None else "\n".join(lines) + "\n", encoding="utf-8",
                        errors="surrogateescape")
        return path

    def bundle_copy(self, edit=None) -> Path:
        """A copy of the bundle (``edit(directory)`` damages it)."""
        dst = self.root / "bundle"
        shutil.copytree(self.bundle, dst)
        if edit is not None:
            edit(dst)
        return dst

    def args(self, input=None, out=None, samples_out=None, bundle=None, samples: str | None = SAMPLES,
             extra=()) -> list[str]:
        """``--bundle --input --out [--samples-out] [--samples]`` (defaults: the bundle, a good file,
        summary.csv in the case's directory) followed by ``extra``."""
        input = self.spectra() if input is None else input
        out = self.root / "summary.csv" if out is None else out
        self.outputs = [Path(str(out))] + ([Path(str(samples_out))] if samples_out is not None else [])
        argv = ["--bundle", str(self.bundle if bundle is None else bundle), "--input", str(input), "--out", str(out)]
        if samples_out is not None:
            argv += ["--samples-out", str(samples_out)]
        if samples is not None:
            argv += ["--samples", samples]
        return argv + [str(a) for a in extra]


def _field(lines, row: int, column: str, value: str) -> None:
    """Set ``column`` of data row ``row`` (0-based) to ``value``."""
    header = lines[0].split(",")
    f = lines[1 + row].split(",")
    f[header.index(column)] = value
    lines[1 + row] = ",".join(f)


def _edit_row(row: int, column: str, value: str):
    return lambda lines: _field(lines, row, column, value)


def _manifest(edit):
    """A bundle edit: ``edit(manifest dict)`` rewrites manifest.json."""
    def apply(d: Path):
        m = json.loads((d / "manifest.json").read_text())
        edit(m)
        (d / "manifest.json").write_text(json.dumps(m, indent=1))
    return apply


def _fix_checksum(d: Path, role: str) -> None:
    m = json.loads((d / "manifest.json").read_text())
    f = d / m["files"][role]["path"]
    m["files"][role]["sha256"] = hashlib.sha256(f.read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(m, indent=1))


def _graph(d: Path, role: str) -> Path:
    return d / json.loads((d / "manifest.json").read_text())["files"][role]["path"]


def _flip_byte(role: str):
    def apply(d: Path):
        g = _graph(d, role)
        data = bytearray(g.read_bytes())
        data[len(data) // 2] ^= 1
        g.write_bytes(bytes(data))
    return apply


def _truncate(role: str):
    def apply(d: Path):
        g = _graph(d, role)
        g.write_bytes(g.read_bytes()[:300])
        _fix_checksum(d, role)
    return apply


def _remove(role: str):
    return lambda d: _graph(d, role).unlink()


def _drop_forward_model(d: Path):
    m = json.loads((d / "manifest.json").read_text())
    _graph(d, "forward_model").unlink()
    del m["files"]["forward_model"]
    m.pop("forward_model", None)
    (d / "manifest.json").write_text(json.dumps(m, indent=1))


def _set(path: str, value):
    """A manifest edit setting the dotted ``path`` to ``value`` (deleting it if value is ...)."""
    def edit(m):
        keys = path.split(".")
        for k in keys[:-1]:
            m = m[k]
        if value is ...:
            del m[keys[-1]]
        else:
            m[keys[-1]] = value
    return edit


def _symlink(w: Work, name: str, target: Path) -> Path:
    link = w.root / name
    link.symlink_to(target)
    return link


def _hardlink(w: Work, name: str, target: Path) -> Path:
    link = w.root / name
    os.link(target, link)
    return link


def _file(w: Work, name: str, content: bytes = b"x") -> Path:
    p = w.root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    return p


def _dir(w: Work, name: str) -> Path:
    p = w.root / name
    p.mkdir(parents=True, exist_ok=True)
    return p


# -- the catalogue -----------------------------------------------------------------------------------

def _input_cases() -> list[Case]:
    F, E = FLUX_COLS, ERR_COLS
    header_fail = ("header lacks column", "lacks column", "not a recognised")
    c = [
        Case("input-missing", "input", "--input names no file",
             lambda w: w.args(input=w.root / "nope.csv"), fails("nope.csv")),
        Case("input-directory", "input", "--input is a directory",
             lambda w: w.args(input=_dir(w, "indir")), fails("directory")),
        Case("input-empty", "input", "a file of 0 bytes", lambda w: w.args(input=w.spectra(text="")),
             fails("empty")),
        Case("input-blank-lines", "input", "only blank lines",
             lambda w: w.args(input=w.spectra(text="\n \n\n")), fails("empty", "header")),
        Case("input-header-only", "input", "the header and no row",
             lambda w: w.args(input=w.spectra(rows=0)), ok(rows=0)),
        Case("input-dev-null", "input", "--input /dev/null", lambda w: w.args(input="/dev/null"),
             fails("empty", "/dev/null")),
        Case("header-missing-columns", "input", "header without the flux_error columns",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(0, ",".join(["source_id", *F])))),
             fails(*header_fail)),
        Case("header-no-source-id", "input", "header without source_id",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(0, L[0].replace("source_id", "id", 1)))),
             fails(*header_fail, "source_id")),
        Case("header-duplicate-column", "input", "flux_3 twice in the header",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(0, L[0].replace("flux_4,", "flux_3,", 1)))),
             fails("more than once", "duplicate")),
        Case("header-extra-flux-column", "input", "flux_343 (another wavelength grid)",
             lambda w: w.args(input=w.spectra(lambda L: [L.__setitem__(i, L[i] + (",flux_343" if i == 0 else ",1e-17"))
                                                         for i in range(len(L))])),
             fails("wavelength grid")),
        Case("binary-garbage", "input", "random bytes",
             lambda w: w.args(input=_file(w, "in.csv", bytes(range(256)) * 40)),
             fails(*header_fail, "cannot tell the file format", "header")),
        Case("gzip-file", "input", "a gzip-compressed spectra file named .csv.gz",
             lambda w: w.args(input=_gzip(w)), fails(*header_fail, "cannot tell the file format", "gzip")),
        Case("utf16-file", "input", "the spectra file in UTF-16",
             lambda w: w.args(input=_file(w, "in.csv", "\n".join(w.lines[:3]).encode("utf-16"))),
             fails(*header_fail, "header")),
        Case("bom", "input", "a UTF-8 byte order mark before the header",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(0, "\ufeff" + L[0]))), ok()),
        Case("crlf", "input", "CRLF line ends",
             lambda w: w.args(input=w.spectra(text="\r\n".join(w.lines[:N_ROWS + 1]) + "\r\n")), ok()),
        Case("cr-only", "input", "CR line ends (old Mac)",
             lambda w: w.args(input=w.spectra(text="\r".join(w.lines[:N_ROWS + 1]) + "\r")), ok()),
        Case("no-final-newline", "input", "no newline after the last row",
             lambda w: w.args(input=w.spectra(text="\n".join(w.lines[:N_ROWS + 1]))), ok()),
        Case("blank-lines-between", "input", "blank lines between rows",
             lambda w: w.args(input=w.spectra(text="\n\n".join(w.lines[:N_ROWS + 1]) + "\n\n")), ok()),
        Case("nan-flux", "input", "flux_5 = nan in row 1",
             lambda w: w.args(input=w.spectra(_edit_row(1, F[5], "nan"))), bad_row("is not finite")),
        Case("inf-flux", "input", "flux_5 = inf", lambda w: w.args(input=w.spectra(_edit_row(1, F[5], "inf"))),
             bad_row("is not finite")),
        Case("minus-infinity-flux", "input", "flux_5 = -Infinity",
             lambda w: w.args(input=w.spectra(_edit_row(1, F[5], "-Infinity"))), bad_row("is not finite")),
        Case("nan-error", "input", "flux_error_9 = NaN",
             lambda w: w.args(input=w.spectra(_edit_row(2, E[9], "NaN"))), bad_row("is not finite")),
        Case("zero-error", "input", "flux_error_9 = 0",
             lambda w: w.args(input=w.spectra(_edit_row(2, E[9], "0"))), bad_row("is not positive")),
        Case("negative-error", "input", "flux_error_9 < 0",
             lambda w: w.args(input=w.spectra(_edit_row(2, E[9], "-1e-19"))), bad_row("is not positive")),
        Case("all-zero-flux", "input", "every flux 0",
             lambda w: w.args(input=w.spectra(lambda L: [_field(L, 0, f, "0") for f in F])), bad_row("mean flux")),
        Case("negative-flux", "input", "every flux negative",
             lambda w: w.args(input=w.spectra(lambda L: [_field(L, 0, f, "-1e-17") for f in F])),
             bad_row("mean flux")),
        Case("overflow", "input", "flux_7 = 1e400 (beyond double)",
             lambda w: w.args(input=w.spectra(_edit_row(3, F[7], "1e400"))), bad_row("flux")),
        Case("short-row", "input", "a row one field short",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, L[2].rsplit(",", 1)[0]))),
             bad_row("fields, the header has")),
        Case("long-row", "input", "a row one field too many",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, L[2] + ",1.0"))),
             bad_row("fields, the header has")),
        Case("only-source-id", "input", "a row with the source id alone",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, "lonely"))), bad_row("fields, the header has")),
        Case("not-a-number", "input", "flux_2 = 1.2.3",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "1.2.3"))), bad_row("is not a number")),
        Case("empty-field", "input", "flux_error_56 empty",
             lambda w: w.args(input=w.spectra(_edit_row(0, E[56], ""))), bad_row("is empty")),
        Case("hex-float", "input", "flux_2 = 0x1p-3",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "0x1p-3"))), bad_row("is not a number")),
        Case("underscore-number", "input", "flux_2 = 1_000",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "1_000"))), bad_row("is not a number")),
        Case("arabic-digits", "input", "flux_2 in Arabic-Indic digits",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "\u0661\u0662"))), bad_row("is not a number")),
        Case("comma-decimal", "input", "a decimal comma, quoted: \"1,5e-17\"",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], '"1,5e-17"'))), bad_row("is not a number")),
        Case("invalid-utf8-number", "input", "an invalid UTF-8 byte inside a number",
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "1\udcff5"))), bad_row("is not a number")),
        Case("quoted-numbers", "input", "every number of a row quoted",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(
                 1, ",".join([L[1].split(",")[0]] + [f'"{v}"' for v in L[1].split(",")[1:]])))), ok()),
        Case("spaces-around-numbers", "input", "spaces around the numbers of a row",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, ", ".join(L[1].split(","))))), ok()),
        Case("source-id-comma", "input", "a quoted source id with a comma and quotes",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, '"a,""b"""' + L[1][L[1].index(","):]))),
             ok()),
        Case("source-id-unicode", "input", "a source id in Greek with an emoji",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, "\u03b1\u03b2\U0001F31F" + L[1][L[1].index(","):]))),
             ok()),
        Case("source-id-long", "input", "a source id of 10 000 characters",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, "x" * 10000 + L[1][L[1].index(","):]))),
             ok()),
        Case("duplicate-source-ids", "input", "two rows with one source id",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, L[1]))), ok()),
        Case("extra-column", "input", "an extra column (notes) the readers ignore",
             lambda w: w.args(input=w.spectra(lambda L: [L.__setitem__(i, L[i] + (",notes" if i == 0 else ",hi"))
                                                         for i in range(len(L))])), ok()),
        Case("shuffled-columns", "input", "the columns in reverse order",
             lambda w: w.args(input=w.spectra(lambda L: [L.__setitem__(i, ",".join(reversed(L[i].split(","))))
                                                         for i in range(len(L))])), ok()),
        Case("every-row-bad", "input", "every row has a NaN",
             lambda w: w.args(input=w.spectra(lambda L: [_field(L, i, F[0], "nan") for i in range(N_ROWS)])),
             bad_row("is not finite")),
        Case("one-row", "input", "a single row", lambda w: w.args(input=w.spectra(rows=1)), ok(rows=1)),
        Case("nul-bytes", "input", "NUL bytes inside a row",
             lambda w: w.args(input=w.spectra(_edit_row(1, F[3], "1e-17\x00\x00"))), bad_row("is not a number")),
        Case("overlong-line", "input", "a 20 MB field in one row",
             lambda w: w.args(input=w.spectra(_edit_row(1, F[3], "1" * 20_000_000))),
             Expect((1,), ("sources failed",), True, None, N_ROWS),
             note="one error row; the rest of the file is read"),
        Case("stdin", "input", "--input - (standard input, empty here)",
             lambda w: w.args(input="-"),
             {"python": fails("- does not exist"), "java": fails("empty", "header")},
             note="the Java CLI reads standard input; the Python engine reads files only"),
        Case("read-error-column", "input", "a project CSV with the wrapper's read_error column set on row 1",
             lambda w: w.args(input=w.spectra(lambda L: [L.__setitem__(i, L[i] + (",read_error" if i == 0 else
                                                                                  (",BP missing" if i == 2 else ",")))
                                                         for i in range(len(L))])),
             {"python": bad_row("BP missing"), "java": ok()},
             note="read_error is the column `xpcvae infer --engine java` writes for archive rows it could not "
                  "read; the Java CLI alone ignores unknown columns"),
        Case("archive-sampled-csv", "input", "a Gaia archive XP sampled CSV",
             lambda w: w.args(input=ROOT / "tests" / "data" / "gaia-archive" / "XP_SAMPLED_RAW_dr3int6.csv"),
             {"python": Expect((0, 1), (), True), "java": fails(*header_fail)},
             note="the Java CLI reads the project CSV; `xpcvae infer --engine java` converts archive files first"),
    ]
    return c


def _gzip(w: Work) -> Path:
    p = w.root / "in.csv.gz"
    p.write_bytes(gzip.compress(("\n".join(w.lines[:3]) + "\n").encode(), mtime=0))  # the same bytes every run
    return p


def _bundle_cases() -> list[Case]:
    def b(name, what, edit, expect, note=""):
        return Case(name, "bundle", what, lambda w: w.args(bundle=w.bundle_copy(edit)), expect, note=note)

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
        b("format-version-2", "format_version 2", _manifest(_set("format_version", 2)), fails("format_version")),
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


def _output_cases() -> list[Case]:
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
             lambda w: w.args(bundle=(b := w.bundle_copy()), samples_out=_symlink(w, "g.onnx", _graph(b, "r1_encoder"))),
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


def _signal_cases() -> list[Case]:
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


def _option_cases() -> list[Case]:
    invalid = ("invalid", "must be")
    return [
        Case("samples-zero", "option", "--samples 0", lambda w: w.args(samples="0"), fails(">= 1", "between 1 and")),
        Case("samples-negative", "option", "--samples -5", lambda w: w.args(samples="-5"), fails(">= 1", "between 1 and")),
        Case("samples-text", "option", "--samples abc", lambda w: w.args(samples="abc"), fails(*invalid)),
        Case("samples-float", "option", "--samples 1.5", lambda w: w.args(samples="1.5"), fails(*invalid)),
        Case("samples-one", "option", "--samples 1 (every percentile the one draw)", lambda w: w.args(samples="1"),
             ok()),
        Case("samples-beyond-int", "option", "--samples 2147483648", lambda w: w.args(samples="2147483648"),
             fails("not an int", "between 1 and 2147483647"), note="more draws than a Java int"),
        Case("seed-negative", "option", "--seed -1", lambda w: w.args(extra=("--seed", "-1")), ok()),
        Case("seed-max-unsigned", "option", "--seed 18446744073709551615 (2^64 - 1)",
             lambda w: w.args(extra=("--seed", "18446744073709551615")), ok()),
        Case("seed-beyond-64-bit", "option", "--seed 2^64", lambda w: w.args(extra=("--seed", str(2**64))),
             fails("--seed must be a 64-bit integer")),
        Case("seed-text", "option", "--seed abc", lambda w: w.args(extra=("--seed", "abc")),
             fails("invalid int value", "--seed must be a 64-bit integer")),
        Case("missing-out", "option", "no --out",
             lambda w: [a for a in w.args() if a != str(w.root / "summary.csv") and a != "--out"],
             fails("--out", "required")),
        Case("missing-input", "option", "no --input",
             lambda w: ["--bundle", str(w.bundle), "--out", str(w.root / "summary.csv")], fails("--input", "required")),
        Case("missing-bundle", "option", "no --bundle",
             lambda w: ["--input", str(w.spectra()), "--out", str(w.root / "summary.csv")], fails("--bundle", "required")),
        Case("unknown-option", "option", "--frobnicate", lambda w: w.args(extra=("--frobnicate",)),
             fails("unrecognized", "unknown")),
        Case("extra-positional", "option", "a stray positional argument", lambda w: w.args(extra=("stray",)),
             fails("unrecognized", "unmatched")),
        Case("empty-out", "option", "--out ''", lambda w: w.args(out=""), fails("is a directory", "--out")),
        Case("empty-input", "option", "--input ''", lambda w: w.args(input=""), fails("directory", "--input")),
        Case("empty-samples-out", "option", "--samples-out ''", lambda w: w.args(samples_out=""),
             fails("is a directory", "--samples-out")),
        Case("out-twice", "option", "--out given twice", _out_twice, {"python": ok(), "java": fails("only once", "--out")},
             note="argparse keeps the last --out (second.csv is written), picocli refuses a repeated option"),
    ]


def _out_twice(w: Work) -> list[str]:
    argv = w.args(extra=("--out", str(w.root / "second.csv")))
    w.outputs = [w.root / "second.csv"]  # the one argparse keeps
    return argv


def catalogue() -> list[Case]:
    """Every case, in report order."""
    cases = _input_cases() + _bundle_cases() + _output_cases() + _signal_cases() + _option_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


#: the cases tests/test_attack_catalogue.py runs in `make test` (both engines, in-process: ~1 s a case)
SUBSET = ("input-missing", "input-empty", "header-missing-columns", "header-extra-flux-column", "nan-flux",
          "short-row", "not-a-number", "zero-error", "format-version-2", "checksum-mismatch", "graph-truncated",
          "out-is-input", "out-symlink-to-input", "out-hardlink-to-input", "samples-out-is-out",
          "samples-out-dangling-link-to-out", "out-is-directory", "samples-out-parent-is-file",
          "out-is-bundle-manifest", "samples-zero")
