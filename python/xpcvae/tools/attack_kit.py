"""What a case of the attack catalogue is (:class:`Case`), what it expects of each engine
(:class:`Expect`), how it makes its files (:class:`Work`), and the edits that damage spectra files and
bundles. The cases: :mod:`xpcvae.tools.attack_inputs`, :mod:`xpcvae.tools.attack_setups`, listed by
:func:`xpcvae.tools.attack_cases.catalogue`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xpcvae.bundle import CHECKSUM_FILE, MANIFEST

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

    def bundle_copy(self, edit=None, fix_manifest_checksum: bool = True) -> Path:
        """A copy of the bundle (``edit(directory)`` damages it). The manifest's checksum file is then
        rewritten to match the manifest, so that a damaged manifest reaches the checks after the
        checksum, unless ``fix_manifest_checksum`` is False (the cases about the checksum itself)."""
        dst = self.root / "bundle"
        shutil.copytree(self.bundle, dst)
        if edit is not None:
            edit(dst)
            if fix_manifest_checksum and (dst / MANIFEST).is_file():
                digest = hashlib.sha256((dst / MANIFEST).read_bytes()).hexdigest()
                (dst / CHECKSUM_FILE).write_text(f"{digest}  {MANIFEST}\n")
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
