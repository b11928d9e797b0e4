"""The attack catalogue's bad spectra files and rows (:mod:`xpcvae.tools.attack_cases`)."""

from __future__ import annotations

import gzip
from pathlib import Path

from xpcvae.data.spectra_csv import ERR_COLS, FLUX_COLS
from xpcvae.tools.attack_kit import N_ROWS, Case, Expect, Work, _dir, _edit_row, _field, _file, bad_row, fails, ok
from xpcvae.tools.harness import ROOT


def input_cases() -> list[Case]:
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
             fails(*header_fail, "cannot tell the file format", "header", "content is not CSV")),
        Case("gzip-file", "input", "a gzip-compressed spectra file named .csv.gz",
             lambda w: w.args(input=_gzip(w)), fails(*header_fail, "cannot tell the file format", "gzip")),
        Case("utf16-file", "input", "the spectra file in UTF-16",
             lambda w: w.args(input=_file(w, "in.csv", "\n".join(w.lines[:3]).encode("utf-16"))),
             fails("is UTF-16 text", "save it as UTF-8")),
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
             bad_row("the row has 686 fields, the header has 687")),
        Case("long-row", "input", "a row one field too many",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, L[2] + ",1.0"))),
             bad_row("the row has 688 fields, the header has 687")),
        Case("only-source-id", "input", "a row with the source id alone",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(2, "lonely"))),
             bad_row("the row has 1 field, the header has 687")),
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
             lambda w: w.args(input=w.spectra(_edit_row(0, F[2], "1\udcff5"))), bad_row("not valid UTF-8")),
        Case("quoted-numbers", "input", "every number of a row quoted",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(
                 1, ",".join([L[1].split(",")[0]] + [f'"{v}"' for v in L[1].split(",")[1:]])))), ok()),
        Case("spaces-around-numbers", "input", "spaces around the numbers of a row",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, ", ".join(L[1].split(","))))), ok()),
        Case("source-id-comma", "input", "a quoted source id with a comma and quotes",
             lambda w: w.args(input=w.spectra(lambda L: L.__setitem__(1, '"a,""b"""' + L[1][L[1].index(","):]))),
             ok()),
        Case("source-id-unicode", "input", "a source id in Greek with an emoji",
             lambda w: w.args(input=w.spectra(
                 lambda L: L.__setitem__(1, "\u03b1\u03b2\U0001F31F" + L[1][L[1].index(","):]))),
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
             Expect((0, 1), (), True), note="both engines read Gaia archive XP products (the Java CLI natively)"),
    ]
    return c


def _gzip(w: Work) -> Path:
    p = w.root / "in.csv.gz"
    p.write_bytes(gzip.compress(("\n".join(w.lines[:3]) + "\n").encode(), mtime=0))  # the same bytes every run
    return p
