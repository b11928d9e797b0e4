"""The spectra-CSV grammar of docs/formats.md ("Spectra CSV grammar"): bytes, lines, fields, numbers.

This module is the rule book the Python reader (:mod:`xpcvae.data.spectra_csv`) is built on;
``org.xpcvae.Csv`` and ``org.xpcvae.CsvLines`` are its Java twins. The two engines must agree on
which lines are rows (a row's number is its random stream), on every value to the bit and on
every message, so each rule is spelled out here once, in the same terms as the document, and
both test suites run the shared cases of ``tests/data/csv-grammar``.

Everything works on bytes: line terminators, separators, quotes and the number syntax are
ASCII, and UTF-8 never uses an ASCII byte inside a multi-byte character, so splitting before
decoding is exact and the position of an invalid UTF-8 byte is well defined.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

#: the only whitespace of the grammar (blank lines, trimming of values): space and tab
WHITESPACE = b" \t"
#: longest line read (terminator excluded); a spectrum line takes about 15 KB
MAX_LINE_BYTES = 1 << 22
BOM = b"\xef\xbb\xbf"

#: (signature at the start of the file, what the file is, what to do): files that are not UTF-8 text
SIGNATURES = (
    (re.compile(rb"\x1f\x8b"), "gzip-compressed", "decompress it first (e.g. gunzip)"),
    (re.compile(rb"BZh[1-9]1AY&SY"), "bzip2-compressed", "decompress it first (e.g. bunzip2)"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz-compressed", "decompress it first (e.g. unxz)"),
    (re.compile(rb"\x28\xb5\x2f\xfd"), "Zstandard-compressed", "decompress it first (e.g. unzstd)"),
    (re.compile(rb"PK\x03\x04"), "a zip archive", "extract the CSV file first (e.g. unzip)"),
    (re.compile(rb"\xff\xfe|\xfe\xff"), "UTF-16 text", "save it as UTF-8"),
)

#: a number (docs/formats.md, rule 14); bytes patterns are ASCII-only, also under IGNORECASE
NUMBER = re.compile(rb"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)",
                    re.IGNORECASE)
_WORD = re.compile(rb"[+-]?[a-zA-Z]")
_DECIMAL_CHARS = b"0123456789.eE+-,"
_NONZERO_MANTISSA = re.compile(rb"[+-]?0*\.?0*[1-9]")
#: control characters (Unicode category Cc), refused in a source_id
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: a double at or beyond this magnitude rounds to infinity in float32 (2^128 - 2^103, the midpoint
#: between the largest float32 and 2^128, which ties to even, i.e. up)
FLOAT32_OVERFLOW = 3.4028235677973366e38
#: a double at or below this magnitude rounds to zero in float32 (2^-150, half the smallest subnormal)
FLOAT32_UNDERFLOW = 2.0 ** -150
SHOW_CHARS = 40
#: the problem of a line longer than MAX_LINE_BYTES, after "the line " or "the header (line l) "
TOO_LONG = f"is longer than {MAX_LINE_BYTES} bytes"


class LineSyntaxError(ValueError):
    """A line that cannot be split into fields (rule 8); the message is the grammar's wording."""


def signature_problem(head: bytes) -> str | None:
    """What the file is and what to do, if ``head`` (its first bytes) is not UTF-8 text (rule 1)."""
    for pattern, what, todo in SIGNATURES:
        m = pattern.match(head)
        if m:
            shown = " ".join(f"{b:02x}" for b in m.group())
            return f"is {what} (it starts with the bytes {shown}); {todo}"
    return None


def is_blank(line: bytes) -> bool:
    """Empty or spaces and tabs only (rule 5)."""
    return not line.translate(None, WHITESPACE)


@dataclass(frozen=True)
class LongLine:
    """A line longer than :data:`MAX_LINE_BYTES`, consumed but not kept (rule 6)."""

    blank: bool


#: bytes read at a time: large blocks make the fast path's calls into pandas few
READ_SIZE = 1 << 24

#: a block of lines: ``data[start:end]`` holds whole lines (spans avoid copying what was read)
Span = tuple[bytes, int, int]


def _first_terminator(data: bytes, pos: int) -> int:
    ends = [i for i in (data.find(b"\n", pos), data.find(b"\r", pos)) if i >= 0]
    return min(ends) if ends else -1


def blocks(fh: BinaryIO, first: bytes = b"", read_size: int = READ_SIZE) -> Iterator[Span | LongLine]:
    """The lines of a byte stream in order, as spans of whole lines or :class:`LongLine` markers.

    A span's bytes hold one or more complete lines, each with its terminator (``\\n``, ``\\r\\n`` or
    a lone ``\\r``; rule 3), except that the last may end with an unterminated last line;
    ``data[start:end].splitlines()`` gives its lines, :func:`next_line` one at a time. Memory stays
    bounded: a line is not kept once it is known to exceed :data:`MAX_LINE_BYTES` (a span may still
    hold a line somewhat longer than that: whoever reads its lines checks their length).
    ``first``: bytes already read from ``fh``.
    """
    carry = b""  # the beginning of a line whose end has not been read yet
    skipping: bool | None = None  # inside a long line: whether it is blank so far
    drop_lf = False  # the last byte consumed was a \r: a \n right after it belongs to it
    data = first
    while True:
        if not data:
            data = fh.read(read_size)
            if not data:
                if skipping is not None:
                    yield LongLine(skipping)
                elif carry:
                    yield carry, 0, len(carry)
                return
        pos = 1 if drop_lf and data[:1] == b"\n" else 0
        drop_lf = False
        if carry or skipping is not None:  # first the end of the line begun before
            end = _first_terminator(data, pos)
            if end < 0:
                if skipping is not None:
                    skipping = skipping and is_blank(data[pos:])
                else:
                    carry += data[pos:]
                    if len(carry) > MAX_LINE_BYTES:
                        skipping, carry = is_blank(carry), b""
                data = b""
                continue
            stop = end + 2 if data[end:end + 2] == b"\r\n" else end + 1
            # a lone \r ending this read: a \n opening the next read belongs to it (not after a \r\n)
            drop_lf = data[end] == 0x0D and stop == end + 1 == len(data)
            if skipping is not None:
                yield LongLine(skipping and is_blank(data[pos:end]))
                skipping = None
            else:
                line = carry + data[pos:stop]
                carry = b""
                yield line, 0, len(line)
            pos = stop
        cut = max(data.rfind(b"\n", pos), data.rfind(b"\r", pos))
        if cut >= pos:
            yield data, pos, cut + 1
            drop_lf = data[cut] == 0x0D and cut == len(data) - 1
        carry = data[max(cut + 1, pos):]
        if len(carry) > MAX_LINE_BYTES:
            skipping, carry = is_blank(carry), b""
        data = b""


_LINE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n)?")


def next_line(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """The line of ``data[:end]`` starting at ``pos`` (without its terminator) and where the next starts."""
    m = _LINE.match(data, pos, end)
    return m.group(1), m.end()


def split_fields(line: bytes) -> list[bytes]:
    """The fields of a line, unquoted but not trimmed (rule 8); :class:`LineSyntaxError` if malformed."""
    if b'"' not in line:
        return line.split(b",")
    fields: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        k = len(fields) + 1
        if i < n and line[i] == 0x22:  # a quoted field
            parts = []
            j = i + 1
            while True:
                q = line.find(b'"', j)
                if q < 0:
                    raise LineSyntaxError(f"field {k} opens a quote that is not closed on this line")
                parts.append(line[j:q])
                if line[q + 1:q + 2] == b'"':
                    parts.append(b'"')
                    j = q + 2
                    continue
                break
            fields.append(b"".join(parts))
            i = q + 1
            if i == n:
                return fields
            if line[i] != 0x2C:
                raise LineSyntaxError(f"field {k} has text after its closing quote")
            i += 1
        else:
            comma = line.find(b",", i)
            end = n if comma < 0 else comma
            if line.find(b'"', i, end) >= 0:
                raise LineSyntaxError(f"field {k} has a quote inside an unquoted field")
            fields.append(line[i:end])
            if comma < 0:
                return fields
            i = comma + 1


def utf8_problem(line: bytes) -> str | None:
    """Why ``line`` is not well-formed UTF-8 (rule 7; after "the line "), or None."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not valid UTF-8 (byte 0x{line[exc.start]:02x} at offset {exc.start})"
    return None


def trim(value: bytes) -> bytes:
    """A field's value: its text without leading and trailing whitespace (rule 9)."""
    return value.strip(WHITESPACE)


def show(text: str) -> str:
    """``text`` as a message shows it: in quotes, cut after 40 characters, escaped (rule 13)."""
    out = []
    for c in text[:SHOW_CHARS]:
        o = ord(c)
        if c == "\\" or c == "'":
            out.append("\\" + c)
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif o <= 0xFF:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "'" + "".join(out) + "'" + ("..." if len(text) > SHOW_CHARS else "")


def source_id_problem(sid: str) -> str | None:
    """Why ``sid`` (trimmed) is not a usable source_id (rule 12.5), or None."""
    if not sid:
        return "source_id is empty"
    if CONTROL.search(sid):
        return f"source_id {show(sid)} contains a control character"
    return None


def number(value: bytes) -> float:
    """The binary64 value of a trimmed field that matches :data:`NUMBER` (caller checks); every
    spelling of nan, ``-nan`` included, is the one quiet NaN Java's ``Double.NaN`` is."""
    v = float(value)
    return v if v == v else math.nan


def value_problem(value: bytes) -> str | None:
    """Why a trimmed value is not a usable number (rule 12.6; the text after ``<column> ``), or None."""
    if not value:
        return "is empty"
    if not NUMBER.fullmatch(value):
        return f"= {show(value.decode('utf-8'))} is not a number"
    return range_problem(value, float(value))


def range_problem(value: bytes, v: float) -> str | None:
    """Overflow or underflow of a number's float32 value (rule 14), or None."""
    a = abs(v)
    if a >= FLOAT32_OVERFLOW and not _WORD.match(value):
        return f"= {show(value.decode('ascii'))} overflows float32 (rounds to infinity)"
    if a <= FLOAT32_UNDERFLOW and not _WORD.match(value) and _NONZERO_MANTISSA.match(value):
        return f"= {show(value.decode('ascii'))} underflows float32 (nonzero, rounds to 0)"
    return None


def read_values(values: list[bytes]) -> tuple[np.ndarray | None, int, str | None]:
    """The binary64 values of a row's trimmed value fields (rules 12.6 and 14), or the index of the
    first bad one and its problem (what :func:`value_problem` says)."""
    out = None
    if not b",".join(values).translate(None, _DECIMAL_CHARS):
        # over this alphabet float()'s documented grammar is exactly rule 14's decimals: no regex needed
        try:
            out = np.array(list(map(float, values)))
        except ValueError:
            pass  # an empty value or a malformed decimal: found below
    elif all(map(NUMBER.fullmatch, values)):
        out = np.array(list(map(float, values)))
    if out is not None:
        a = np.abs(out)
        with np.errstate(invalid="ignore"):
            unusual = np.flatnonzero(~((a > FLOAT32_UNDERFLOW) & (a < FLOAT32_OVERFLOW)))  # 0, nan, inf, edges
        for i in unusual:
            problem = range_problem(values[i], out[i])
            if problem:
                return None, int(i), problem
        out[np.isnan(out)] = math.nan  # every nan is the one quiet NaN
        return out, -1, None
    for i, v in enumerate(values):
        problem = value_problem(v)
        if problem:
            return None, i, problem
    raise AssertionError("unreachable: a value failed NUMBER but has no problem")
