"""A fast path for the spectra-CSV reader: whole blocks of plain rows parsed by pandas' C parser.

:class:`xpcvae.data.spectra_csv.SpectraCsvReader` reads line by line in Python, exactly as the
grammar says (docs/formats.md), at about 1 ms per spectrum. Most files are plain: no quotes,
numbers in decimal notation without whitespace. For a block of such lines this module lets
pandas' C tokenizer and float converter do the work, and only where the outcome is provably the
grammar's:

* the number columns hold nothing but ``0-9 . e E + -`` (any other byte is turned into one
  that makes pandas fail), the source_id and extra columns are valid UTF-8 without quotes,
  tabs or control characters (their values: the text without surrounding spaces), the lines
  end in ``\\n`` or ``\\r\\n``, and each has the header's number of fields (the values go to
  pandas as one column, each row followed by a sentinel ``inf`` that a row of another length
  would misplace);
* over that alphabet, a converter that must consume the whole field accepts exactly the
  grammar's decimal syntax (rule 14): pandas >= 3.1 converts with fast_float, older pandas is
  asked for ``float_precision="round_trip"`` (CPython's ``PyOS_string_to_double``), both
  correctly rounded like ``float()`` and Java's ``Double.parseDouble``. A self-check on first
  use (grammar-invalid fields must be refused, hard rounding cases must give ``float()``'s
  bits) turns the fast path off if the installed pandas behaves otherwise;
* rows where a value's float32 is 0 or not finite (possible underflow or overflow, rule 14)
  are left to the exact per-line path, as is any block pandas refuses.

Anything else, and small blocks (not worth importing pandas for), goes the per-line way.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass

import numpy as np

from xpcvae.data.csv_grammar import CONTROL, MAX_LINE_BYTES

#: blocks smaller than this are read line by line
MIN_BYTES = 1 << 20
#: "," to a line end (pandas then parses one column: its cost per column is high), the number
#: characters and the sentinel's letters kept, any other byte to "x"
_ONE_PER_LINE = bytes(0x0A if c == 0x2C else c if c in b"0123456789.eE+-inf" else 0x78 for c in range(256))

#: fields the grammar refuses; a converter used on the fast path must refuse each of them
_REFUSED = [b"", b".", b"+", b"-", b"e5", b"E5", b"1e", b"1e+", b"1E-", b".e1", b"+.", b"-.e1", b"1.2.3", b"1-2",
            b"1e5.3", b"1ee5", b"--1", b"+-1", b"1e5e3", b"1+", b"1.e", b"..1", b"1..", b"e", b"+e1", b"1e--1",
            b"i", b"n", b"f", b"1i", b"1f", b"in", b"nf", b"1inf", b"inf1", b"x", b"1x"]
#: fields the grammar accepts, among them hard cases of correct rounding
_ACCEPTED = [b"inf", b"1.", b".5", b"+1", b"-0", b"0", b"007", b"1e5", b"1E-5", b"+1.5e+3", b"0.1", b"1e400", b"-1e400",
             b"1e-400", b"4.9406564584124654e-324", b"2.4703282292062327e-324", b"2.4703282292062328e-324",
             b"2.2250738585072011e-308", b"2.2250738585072012e-308", b"9007199254740993", b"9007199254740995",
             b"1.7976931348623157e308", b"1.7976931348623158e308", b"1.7976931348623159e308",
             b"0.1000000000000000055511151231257827021181583404541015625",
             b"1.00000000000000011102230246251565404236316680908203125",
             b"1.00000000000000011102230246251565404236316680908203124",
             b"3.4028235677973366e38", b"1" + b"0" * 400 + b"e-400", b"0" * 500 + b"1.5"]


@dataclass
class Block:
    """The rows of a block as arrays; ``suspect[i]``: row ``i`` must be read by the exact path."""

    ids: list[str]
    flux: np.ndarray
    flux_error: np.ndarray
    extra: list[list[str]]
    suspect: np.ndarray


def parse_block(block: bytes, pos: int, size: int, layout, extra_cols) -> Block | None:
    """``block[pos:size]`` (whole lines, each with its terminator) parsed, or None where only the
    per-line path can say what the grammar says. ``extra_cols``: columns whose text is wanted (or None)."""
    if size - pos < MIN_BYTES or block[size - 1] != 0x0A:
        return None
    numeric = sorted(set(layout.flux_cols) | set(layout.err_cols))
    first, stop, n_fields = numeric[0], numeric[-1] + 1, layout.n_fields
    if stop - first != len(numeric):  # text columns between the numbers: not worth a fast path
        return None
    converter = _converter()
    if converter is None:
        return None
    # lines end in \n or \r\n (a stray \r, or a \r\r\n, stays inside a line and fails below);
    # the numbers of a line are a view of the block, copied once, by the join below
    view = memoryview(block)
    find = block.find
    heads, tails, bodies = [], [], []
    n_tail = n_fields - stop
    while pos < size:
        nl = find(b"\n", pos, size)
        end = nl - 1 if nl > pos and block[nl - 1] == 0x0D else nl
        if end - pos > MAX_LINE_BYTES:
            return None
        # the text columns before and after the numbers (a blank line or one with too few fields
        # lacks a comma here; a row with another number of values misplaces the sentinels below)
        start = pos
        if first:
            head = []
            for _ in range(first):
                comma = find(b",", start, end)
                if comma < 0:
                    return None
                head.append(block[start:comma])
                start = comma + 1
            heads.append(head)
        stop_at = end
        if n_tail:
            tail = []
            for _ in range(n_tail):
                comma = block.rfind(b",", start, stop_at)
                if comma < 0:
                    return None
                tail.append(block[comma + 1:stop_at])
                stop_at = comma
            tails.append(tail[::-1])
        bodies.append(view[start:stop_at])
        pos = nl + 1
    n = len(bodies)
    texts = {}
    for c, raw in [(c, [h[k] for h in heads]) for k, c in enumerate(range(first))] + \
                  [(c, [t[k] for t in tails]) for k, c in enumerate(range(stop, n_fields))]:
        joined = b"\n".join(raw)
        if b'"' in joined or b"\t" in joined or joined.count(b"\n") != len(raw) - 1:
            return None  # quoting, a tab to trim or refuse, a stray line end: the per-line path
        try:
            text = joined.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if CONTROL.search(text.replace("\n", "")):
            return None
        texts[c] = [v.strip(" ") for v in text.split("\n")]
    if "" in texts[layout.id_col]:
        return None  # an empty source_id: the per-line path says so
    # one value per line, each row's values followed by the sentinel "inf", which no row of the
    # fast path holds (infinite values are refused below), so a row of another length misplaces it;
    # every byte other than 0-9 . e E + - and the sentinel's letters becomes "x", which fails
    bodies.append(b"")
    data = b",inf,".join(bodies).translate(_ONE_PER_LINE)
    del bodies, view
    k = len(numeric)
    try:
        values = converter(data)
    except Exception:  # anything pandas refuses is for the per-line path to explain
        return None
    if values.shape != (n * (k + 1),):
        return None
    values = values.reshape(n, k + 1)
    if not np.isposinf(values[:, k]).all() or not np.isfinite(values[:, :k]).all():
        return None
    values = values[:, :k]
    flux = _columns(values, [c - first for c in layout.flux_cols])
    err = _columns(values, [c - first for c in layout.err_cols])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        v32 = values.astype(np.float32)
        suspect = (~np.isfinite(v32) | (v32 == 0)).any(axis=1)
    extra = [texts[c] if c is not None and c in texts else [""] * n for c in extra_cols]
    return Block(texts[layout.id_col], flux, err, extra, suspect)


def _columns(values: np.ndarray, cols: list[int]) -> np.ndarray:
    """``values[:, cols]``, a view when the columns are consecutive (the usual layout)."""
    if cols == list(range(cols[0], cols[0] + len(cols))):
        return values[:, cols[0]:cols[0] + len(cols)]
    return values[:, cols]


@functools.lru_cache(maxsize=1)
def _converter():
    """A function: bytes holding one number per line -> their float64 values (an exception for
    anything else), or None when pandas is missing or its converter fails the self-check."""
    try:
        import pandas as pd
    except ImportError:
        return None
    major, minor = (int(x) for x in pd.__version__.split(".")[:2])
    precision = {} if (major, minor) >= (3, 1) else {"float_precision": "round_trip"}

    def convert(data: bytes) -> np.ndarray:
        """The values of ``data``, one per line, as float64 (an exception for any other content)."""
        frame = pd.read_csv(io.BytesIO(data), header=None, names=[0], index_col=False, dtype=np.float64,
                            na_filter=False, quoting=csv.QUOTE_NONE, engine="c", skip_blank_lines=False,
                            low_memory=False, **precision)
        return frame[0].to_numpy(np.float64)

    try:
        for field in _REFUSED:
            try:
                convert(b"1\n" + field + b"\n2\n")
            except Exception:
                continue
            return None
        got = convert(b"\n".join(_ACCEPTED) + b"\n")
        want = np.array([float(f) for f in _ACCEPTED])
        if not np.array_equal(got.view(np.uint64), want.view(np.uint64)):
            return None
    except Exception:
        return None
    return convert
