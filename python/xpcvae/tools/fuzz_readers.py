"""Differential fuzzing of the two spectra-CSV readers (docs/formats.md, "Spectra CSV grammar").

    python -m xpcvae.tools.fuzz_readers --lines 100000 [--seed 1]

Random data lines -- valid rows of random numbers in many spellings, damaged by byte-level
mutations (bytes inserted, deleted or replaced: NUL, ``\\x1a``, no-break spaces, byte-order marks,
invalid UTF-8, digits, signs, exponents, separators, quotes, whitespace, line ends) -- are written
into files and read by the Python reader (per line, and with its block fast path forced on) and
by the Java reader (``org.xpcvae.SpectraCsv``, through JPype on the jars of
``java/build/install/xpcvae/lib``). Rows are compared one by one: the same number of rows,
and for each the same source_id and either the same error message or bit-equal float32 values.
Each numeric token is also compared alone: accepted or refused alike, and the same binary64
value (Python's ``float`` against ``org.xpcvae.Csv.parseNumber``). Mutated headers go one per
file, where the two must raise the same file error or read the same rows.

:func:`run` returns the counts (for ``make reliability``); a disagreement is a bug in one of the
readers or in the grammar's wording.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

from xpcvae.data import csv_grammar, spectra_fast
from xpcvae.data.spectra_csv import SpectraFileError, read_spectra_csv

ROOT = Path(__file__).resolve().parents[3]
JARS = ROOT / "java" / "build" / "install" / "xpcvae" / "lib"

#: bytes the mutations insert or substitute
PALETTE = [b"\x00", b"\x01", b"\x1a", b"\x0b", b"\x0c", b"\x7f", b"\xa0", b"\xc2\xa0", b"\xc2\x85", b"\xe2\x80\x83",
           b"\xef\xbb\xbf", b"\xff", b"\xfe", b"\xc3", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
           b"\xe2\x82", b"\xd9\xa1", b"\xef\xbc\x91", b"0", b"1", b"5", b"9", b"00", b"+", b"-", b"e", b"E", b"e-",
           b"e+", b"E5", b".", b",", b",,", b'"', b'""', b" ", b"\t", b"  ", b"\r", b"\n", b"\r\n", b"nan", b"inf",
           b"Infinity", b"x", b"_", b"d", b"f", b"0x", b"p", b"\\", b"'"]
SPECIAL_VALUES = ["nan", "NaN", "-nan", "inf", "-inf", "+Infinity", "iNfInItY", "0", "-0", "+0", "0.0", "0e999",
                  "1e39", "-1e39", "3.4028235e38", "3.4028236e38", "3.40282356779733661637539395458142568448e38",
                  "3.40282356779733661637539395458142568447e38", "1e-45", "7e-46", "7.00649232162408535461864791644958065640e-46",
                  "7.00649232162408535461864791644958065641e-46", "1e-50", "1e309", "-1e-400", "1e-320",
                  "0001.5", "1.", ".5", "+.5e-3", "-5.E+1", "9007199254740993", "1.0000000596046447753906250000000001",
                  "0.1", "2.2250738585072011e-308", "4.9406564584124654e-324", "1" + "0" * 400, "0." + "0" * 400 + "1"]


def java_readers():
    """The Java classes (JVM started on first use, as ``tests/test_parity.py`` starts it)."""
    import jpype

    jars = sorted(str(p) for p in JARS.glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no jars in {JARS}: build the Java module with `make java`")
    if not jpype.isJVMStarted():
        jpype.startJVM(classpath=jars, convertStrings=True)
    return jpype.JPackage("org").xpcvae


# -- random lines -------------------------------------------------------------------------------
def _value(r: random.Random) -> str:
    k = r.random()
    if k < 0.15:
        return r.choice(SPECIAL_VALUES)
    x = (-1) ** r.randrange(2) * 10.0 ** r.uniform(-48, 40) * r.random()
    if k < 0.55:
        return repr(x)
    if k < 0.75:
        return f"{x:.{r.randrange(0, 20)}e}"
    if k < 0.85:
        return f"{x:.{r.randrange(0, 30)}f}"
    digits = "".join(r.choice("0123456789") for _ in range(r.randrange(1, 30)))
    dot = r.randrange(len(digits) + 1)
    text = digits[:dot] + "." + digits[dot:] if r.random() < 0.7 else digits
    if r.random() < 0.4:
        text += r.choice("eE") + r.choice(["", "+", "-"]) + str(r.randrange(0, 400))
    return r.choice(["", "", "+", "-"]) + text


def _source_id(r: random.Random, i: int) -> str:
    return r.choice([f"s{i}", str(4295806720 + 17 * i), f"Gaia DR3 {i}", f'"q,{i}"', f'"d""{i}"', f" s{i}\t", "",
                     f"\u00e9{i}", f"\U0001F600{i}"])


def _mutate(line: bytes, r: random.Random) -> bytes:
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        at = r.randrange(len(line) + 1)
        op = r.random()
        if op < 0.4:
            line = line[:at] + r.choice(PALETTE) + line[at:]
        elif op < 0.7:
            line = line[:at] + line[at + r.randrange(1, 4):]
        else:
            line = line[:at] + r.choice(PALETTE) + line[at + 1:]
    return line


def random_line(r: random.Random, i: int, n_wave: int) -> bytes:
    """One data line (its terminator not included), valid or damaged."""
    k = r.random()
    if k < 0.0002:  # rare: lines around the length limit
        size = csv_grammar.MAX_LINE_BYTES + r.randrange(-2, 3)
        return b"s," + b"0" * (size - 3 - 2 * (2 * n_wave - 1)) + b"1" + b",1" * (2 * n_wave - 1)
    if k < 0.03:
        return r.choice([b"", b" ", b"\t \t", b"\x1a", b"\x00", b"\xef\xbb\xbf", b"\xc2\xa0", b"\x0c", b"\xff"])
    fields = [_source_id(r, i).encode("utf-8")] + [_value(r).encode("ascii") for _ in range(2 * n_wave)]
    line = b",".join(fields)
    return line if k < 0.5 else _mutate(line, r)


def _header(n_wave: int) -> list[str]:
    return ["source_id", *[f"flux_{i}" for i in range(n_wave)], *[f"flux_error_{i}" for i in range(n_wave)]]


def random_header(r: random.Random, n_wave: int) -> bytes:
    names = _header(n_wave)
    k = r.random()
    if k < 0.3:
        r.shuffle(names)
    elif k < 0.4:
        names.insert(r.randrange(len(names) + 1), r.choice(["extra", "flux_x", f"flux_{n_wave}", f"flux_error_00{n_wave}",
                                                             "flux_0", "source_id", '"q,x"', "flux_\u0663"]))
    elif k < 0.5:
        del names[r.randrange(len(names))]
    head = ",".join(names).encode("utf-8")
    if r.random() < 0.5:
        head = _mutate(head, r)
    prefix = r.choice([b"", b"", b"\xef\xbb\xbf", b"\n", b" \t\r\n", b"\x1f\x8b", b"\xff\xfe", b"PK\x03\x04",
                       b"BZh91AY&SY", b"\xef\xbb\xbf\xef\xbb\xbf"])
    return prefix + head


# -- comparing the readers ---------------------------------------------------------------------------
def python_rows(path: Path, n_wave: int, fast: bool = False):
    """What the Python reader makes of ``path``: its file error, or (source_id, error, float32 values)
    per row; ``fast``: the block fast path tried on every block (else never)."""
    old = spectra_fast.MIN_BYTES
    spectra_fast.MIN_BYTES = 0 if fast else 1 << 62
    try:
        rows = read_spectra_csv(path, n_wave)
    except SpectraFileError as exc:
        return str(exc)
    finally:
        spectra_fast.MIN_BYTES = old
    return [(r.source_id, r.error, None if r.error else np.concatenate([r.flux, r.flux_error]).astype(np.float32))
            for r in rows]


def java_rows(x, path: Path, n_wave: int):
    """What the Java reader makes of ``path``, as :func:`python_rows` says it."""
    try:
        rows = x.SpectraCsv.readAll(_jclass("java.nio.file.Path").of(str(path)), n_wave)
    except _jclass("org.xpcvae.CsvFormatException") as exc:
        return str(exc.getMessage())
    out = []
    for i, r in enumerate(rows.toArray()):
        if r.rowIndex() != i:
            raise AssertionError(f"{path}: Java row {i} has index {r.rowIndex()}")
        if r.ok():
            s = r.spectrum()
            out.append((r.sourceId(), None, np.concatenate([np.asarray(s.flux()), np.asarray(s.fluxError())])))
        else:
            out.append((r.sourceId(), r.error(), None))
    return out


@functools.lru_cache(maxsize=None)
def _jclass(name: str):
    import jpype

    return jpype.JClass(name)


def same(a, b) -> bool:
    """Whether two readers' outcomes agree: the same file error, or the same rows (values bit for bit)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if len(a) != len(b):
        return False
    for (ia, ea, va), (ib, eb, vb) in zip(a, b):
        if ia != ib or ea != eb or (va is None) != (vb is None):
            return False
        if va is not None and not np.array_equal(va.view(np.uint32), vb.view(np.uint32)):
            return False
    return True


def _first_difference(a, b) -> str:
    if isinstance(a, str) or isinstance(b, str):
        return f"python: {a if isinstance(a, str) else f'{len(a)} rows'} / java: {b if isinstance(b, str) else f'{len(b)} rows'}"
    for i, (ra, rb) in enumerate(zip(a, b)):
        if not same([ra], [rb]):
            return f"row {i}: python {ra[:2]} / java {rb[:2]}"
    return f"python {len(a)} rows / java {len(b)} rows"


def _compare_tokens(x, tokens: list[bytes], counts: dict, examples: list) -> None:
    """Each value token alone: Python's grammar and float() against Java's Csv.parseNumber."""
    for raw in tokens:
        t = csv_grammar.trim(raw)
        try:
            text = t.decode("utf-8")
        except UnicodeDecodeError:
            continue
        py = csv_grammar.number(t) if csv_grammar.NUMBER.fullmatch(t) else None
        try:
            jv = float(x.Csv.parseNumber(text))
        except Exception:
            jv = None
        counts["tokens"] += 1
        same = (py is None and jv is None) or (
            py is not None and jv is not None and np.float64(py).view(np.uint64) == np.float64(jv).view(np.uint64))
        if not same:
            counts["disagreements"] += 1
            if len(examples) < 10:
                examples.append(f"token {t!r}: python {py!r} / java {jv!r}")


def run(n: int = 100_000, seed: int = 1, n_wave: int = 3, lines_per_file: int = 250) -> dict:
    """Fuzz both readers with ``n`` random data lines (and n/100 random headers); return the counts."""
    x = java_readers()
    r = random.Random(seed)
    counts = {"lines": 0, "files": 0, "header_files": 0, "rows": 0, "ok_rows": 0, "error_rows": 0,
              "file_errors": 0, "tokens": 0, "disagreements": 0}
    examples: list[str] = []
    header = ",".join(_header(n_wave)).encode()
    with tempfile.TemporaryDirectory(prefix="xpcvae-fuzz-") as tmp:
        path = Path(tmp) / "fuzz.csv"

        def check(content: bytes, what: str) -> None:
            path.write_bytes(content)
            java = java_rows(x, path, n_wave)
            for fast in (False, True):
                py = python_rows(path, n_wave, fast)
                if not same(py, java):
                    counts["disagreements"] += 1
                    if len(examples) < 10:
                        examples.append(f"{what}{' (fast path)' if fast else ''}: {_first_difference(py, java)}")
            if isinstance(java, str):
                counts["file_errors"] += 1
            else:
                counts["rows"] += len(java)
                counts["ok_rows"] += sum(e is None for _, e, _ in java)
                counts["error_rows"] += sum(e is not None for _, e, _ in java)

        done = 0
        while done < n:
            lines = [random_line(r, done + i, n_wave) for i in range(min(lines_per_file, n - done))]
            eols = [r.choice([b"\n", b"\n", b"\r\n", b"\r"]) for _ in lines]
            body = b"".join(line + eol for line, eol in zip(lines, eols))
            check(r.choice([b"", b"", b"\xef\xbb\xbf"]) + header + b"\n" + body, f"file {counts['files']}")
            tokens = [t for line in lines if len(line) < 1000 for t in line.split(b",")[1:]]
            _compare_tokens(x, r.sample(tokens, min(len(tokens), 2 * len(lines))), counts, examples)
            counts["files"] += 1
            counts["lines"] += len(lines)
            done += len(lines)
        for h in range(max(10, n // 100)):
            rows = b"".join(random_line(r, i, n_wave) + b"\n" for i in range(3))
            check(random_header(r, n_wave) + b"\n" + rows, f"header file {h}")
            counts["header_files"] += 1
    counts["examples"] = examples
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100_000, help="random data lines (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    counts = run(args.lines, args.seed)
    print(json.dumps(counts, indent=1))
    return 0 if counts["disagreements"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
