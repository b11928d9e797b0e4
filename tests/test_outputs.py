"""The outputs of `xpcvae infer`, in both engines: never onto the input or onto each other, all of
them or none, errors that name the file and the reason, nothing left (and no JVM running) after
SIGINT or SIGTERM, and the Python engine's streaming batch loop.

The Python engine runs in-process (``xpcvae.cli.main``) where it can, the Java engine through
``xpcvae infer --engine java`` (the Python wrapper starting the Java launcher) or the launcher
itself; signal tests run the command as a process of its own.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xpcvae.atomic import AtomicOutputs, OutputError
from xpcvae.cli import main
from xpcvae.data.spectra_csv import write_spectra_csv

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "export" / "default"
LAUNCHER = ROOT / "java" / "build" / "install" / "xpcvae" / "bin" / "xpcvae"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
ENGINES = ("python", "java")


@pytest.fixture(scope="module")
def spectra(tmp_path_factory):
    """A spectra file of 4 rows."""
    from xpcvae.tools.harness import synthetic_spectra

    _, flux, sigma = synthetic_spectra(4, seed=5)
    path = tmp_path_factory.mktemp("spectra") / "in.csv"
    write_spectra_csv(path, [f"s{i}" for i in range(4)], flux, sigma)
    return path


def _input(spectra, tmp_path) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(spectra.read_bytes())
    return path


def _cli_argv(argv):
    """(exit status, stderr) of the command line ``argv``: the Python engine in-process, the Java
    engine through the wrapper in a process of its own."""
    if "java" not in argv:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(argv)
        return rc, err.getvalue()
    proc = subprocess.run([sys.executable, "-m", "xpcvae.cli", *argv], capture_output=True, text=True, env=ENV)
    return proc.returncode, proc.stderr


def _cli(engine, *args):
    """``xpcvae infer --engine ENGINE --bundle export/default --samples 20 ARGS``: (exit status, stderr)."""
    return _cli_argv(["infer", "--engine", engine, "--bundle", str(BUNDLE), "--samples", "20", *map(str, args)])


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# -- an output onto the input, or both outputs onto one file ----------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("how", ["same name", "symbolic link", "hard link", "another spelling"])
def test_an_output_onto_the_input_is_refused(engine, how, spectra, tmp_path):
    src = _input(spectra, tmp_path)
    before = src.read_bytes()
    if how == "symbolic link":
        out = tmp_path / "link.csv"
        out.symlink_to(src)
    elif how == "hard link":
        out = tmp_path / "hard.csv"
        os.link(src, out)
    elif how == "another spelling":
        (tmp_path / "sub").mkdir()
        out = tmp_path / "sub" / ".." / "in.csv"
    else:
        out = src
    listing = _files(tmp_path)
    for opts in (["--out", out], ["--out", tmp_path / "ok.csv", "--samples-out", out]):
        rc, err = _cli(engine, "--input", src, *opts)
        assert rc == 2, err
        flag = opts[-2]
        assert f"xpcvae infer: error: {flag} {out} is the input file --input {src}" in err, err
        assert "writing it would destroy the spectra" in err
        assert ("(the same file under another name, or a link to it)" in err) == how.endswith("link")
    assert src.read_bytes() == before
    assert _files(tmp_path) == listing


@pytest.mark.parametrize("engine", ENGINES)
def test_both_outputs_under_one_name_are_refused(engine, spectra, tmp_path):
    src = _input(spectra, tmp_path)
    out = tmp_path / "out.csv"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(out)  # a link to the summary that is still to be written
    for samples in (out, tmp_path / "." / "out.csv", dangling):
        rc, err = _cli(engine, "--input", src, "--out", out, "--samples-out", samples)
        assert rc == 2, err
        assert f"--samples-out {samples} and --out {out} are the same file" in err, err
        assert "one output would overwrite the other" in err
    out.write_text("old\n")
    os.link(out, tmp_path / "hard.csv")
    rc, err = _cli(engine, "--input", src, "--out", out, "--samples-out", tmp_path / "hard.csv")
    assert rc == 2 and "are the same file (the same file under another name, or a link to it)" in err, err
    assert out.read_text() == "old\n"
    assert _files(tmp_path) == ["dangling.csv", "hard.csv", "in.csv", "out.csv"]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_output_onto_a_file_of_the_bundle_is_refused(engine, spectra, tmp_path):
    import shutil

    src = _input(spectra, tmp_path)
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    manifest = bundle / "manifest.json"
    before = manifest.read_bytes()
    link = tmp_path / "m.json"
    link.symlink_to(manifest)
    for out in (manifest, link):
        rc, err = _cli_argv(["infer", "--engine", engine, "--bundle", str(bundle), "--input", str(src), "--out",
                             str(out)])
        assert rc == 2, err
        assert f"--out {out} is a file of the model bundle --bundle {bundle}: writing it would damage the bundle" in err
    assert manifest.read_bytes() == before


def test_the_java_launcher_refuses_a_symbolic_link_to_the_input(spectra, tmp_path):
    """The Java CLI itself (not only the Python wrapper) refuses, with the Python engine's message."""
    src = _input(spectra, tmp_path)
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    proc = subprocess.run([str(LAUNCHER), "infer", "--bundle", str(BUNDLE), "--input", str(src), "--out", str(link)],
                          capture_output=True, text=True)
    py_rc, py_err = _cli("python", "--input", src, "--out", link)
    assert proc.returncode == py_rc == 2
    assert proc.stderr == py_err
    assert _files(tmp_path) == ["in.csv", "link.csv"]


# -- all outputs or none; errors that say which file and why --------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_draws_that_cannot_be_written_leave_no_summary(engine, spectra, tmp_path):
    src = _input(spectra, tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    samples = blocker / "draws.csv"
    rc, err = _cli(engine, "--input", src, "--out", tmp_path / "out.csv", "--samples-out", samples)
    assert rc == 2, err
    assert f"cannot write the samples CSV {samples}: {blocker} is not a directory" in err, err
    assert _files(tmp_path) == ["afile", "in.csv"]


@pytest.mark.parametrize("engine,suffix", [("python", ".ecsv"), ("python", ".fits"), ("java", ".ecsv")])
def test_a_typed_summary_and_its_draws_appear_together(engine, suffix, spectra, tmp_path):
    from astropy.table import Table

    src = _input(spectra, tmp_path)
    out, draws = tmp_path / f"s{suffix}", tmp_path / "d.csv"
    rc, err = _cli(engine, "--input", src, "--out", out, "--samples-out", draws)
    assert rc == 0, err
    assert list(Table.read(out)["source_id"]) == [f"s{i}" for i in range(4)]
    assert len(draws.read_text().splitlines()) == 1 + 4 * 20
    assert _files(tmp_path) == sorted(["in.csv", out.name, "d.csv"])


@pytest.mark.parametrize("suffix", [".csv", ".ecsv", ".fits"])
def test_python_draws_that_cannot_be_renamed_take_the_summary_back(suffix, spectra, tmp_path, monkeypatch):
    """The Python engine's summary, in any format, is renamed with its draws: should the draws' rename
    fail (after the summary's), the summary is removed again and the error says so."""
    import errno

    from xpcvae import atomic
    from xpcvae.infer.batch import infer_csv

    src = _input(spectra, tmp_path)
    out, draws = tmp_path / f"s{suffix}", tmp_path / "d.csv"
    replace = os.replace

    def failing_replace(a, b):
        if Path(b) == draws:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        replace(a, b)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OutputError) as info:
        infer_csv(BUNDLE, src, out, n_samples=20, samples_out=draws, progress=False)
    assert str(info.value) == (f"cannot write the samples CSV {draws}: cannot rename the finished temporary file "
                               f"onto it: no space left on device; {out} removed again (all outputs or none)")
    assert _files(tmp_path) == ["in.csv"]


@pytest.mark.parametrize("engine", ENGINES)
def test_output_errors_name_the_file_and_the_reason(engine, spectra, tmp_path):
    src = _input(spectra, tmp_path)
    (tmp_path / "adir").mkdir()
    rc, err = _cli(engine, "--input", src, "--out", tmp_path / "adir")
    assert rc == 2 and f"--out {tmp_path / 'adir'} is a directory; expected the name of a file to write" in err, err
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub" / "out.csv"
    rc, err = _cli(engine, "--input", src, "--out", out)
    assert rc == 2 and f"cannot write the summary CSV {out}: {tmp_path / 'afile'} is not a directory" in err, err
    assert "Error" not in err and "Exception" not in err and "Errno" not in err
    assert _files(tmp_path) == ["adir", "afile", "in.csv"] and _files(tmp_path / "adir") == []


#: per engine: a file-size limit the summary fits in and the draws do not, and the draws per source
#: (4 sources). The JVM writes its own copy of the ONNX Runtime library (28 MB) before it starts.
FILE_SIZE_LIMIT = {"python": (100_000, 500), "java": (32 << 20, 80_000)}


def _file_size_limit(engine):
    def limit():
        # with SIGXFSZ ignored a write past the limit fails with EFBIG instead of ending the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT[engine][0],) * 2)
    return limit


@pytest.mark.parametrize("engine", ENGINES)
def test_a_full_disk_names_the_output_and_leaves_nothing(engine, spectra, tmp_path):
    """Writes beyond a file-size limit fail (EFBIG), as on a full disk: the run stops, exit 2, no file left."""
    src = _input(spectra, tmp_path)
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "xpcvae.cli", "infer", "--engine", engine, "--bundle", str(BUNDLE), "--input",
           str(src), "--out", str(out), "--samples", str(FILE_SIZE_LIMIT[engine][1]), "--samples-out",
           str(tmp_path / "draws.csv")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, preexec_fn=_file_size_limit(engine))
    assert proc.returncode == 2, proc.stderr
    assert f"cannot write the samples CSV {tmp_path / 'draws.csv'}: file too large" in proc.stderr, proc.stderr
    assert _files(tmp_path) == ["in.csv"]


def test_a_failed_rename_removes_the_outputs_already_renamed(tmp_path):
    first, second = tmp_path / "summary.csv", tmp_path / "samples.csv"
    with pytest.raises(OutputError) as info:
        with AtomicOutputs({"summary CSV": first, "samples CSV": second}) as outputs:
            outputs.open("summary CSV").write("a\n")
            outputs.open("samples CSV").write("b\n")
            second.mkdir()  # the second target turns into a non-empty directory: its rename fails
            (second / "keep").write_text("x")
    msg = str(info.value)
    assert msg.startswith(f"cannot write the samples CSV {second}: cannot rename the finished temporary file onto it: ")
    assert msg.endswith(f"; {first} removed again (all outputs or none)")
    assert _files(tmp_path) == ["samples.csv"] and _files(second) == ["keep"]


def test_an_exception_leaves_no_output_and_no_temporary_file(tmp_path):
    with pytest.raises(KeyError):
        with AtomicOutputs({"a": tmp_path / "a.csv", "b": tmp_path / "b.csv"}) as outputs:
            outputs.open("a").write("x")
            assert len(_files(tmp_path)) == 2  # both temporary files exist from the start
            raise KeyError("boom")
    assert _files(tmp_path) == []


# -- signals ---------------------------------------------------------------------------------------

def _long_input(tmp_path) -> Path:
    from xpcvae.tools.harness import synthetic_spectra

    _, flux, sigma = synthetic_spectra(200, seed=9)
    path = tmp_path / "in.csv"
    write_spectra_csv(path, [f"s{i}" for i in range(200)], flux, sigma)
    return path


def _processes_naming(text: str) -> list[int]:
    """Process ids whose command line contains ``text``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if text.encode() in (d / "cmdline").read_bytes():
                    found.append(int(d.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_and_leaves_nothing(engine, signum, tmp_path):
    """The signal reaches the command only (as `kill PID` does); with the Java engine the JVM is stopped
    too, before the command exits, and writes nothing afterwards."""
    src = _long_input(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out, draws = out_dir / "summary.csv", out_dir / "draws.csv"
    proc = subprocess.Popen([sys.executable, "-m", "xpcvae.cli", "infer", "--engine", engine, "--bundle", str(BUNDLE),
                             "--input", str(src), "--out", str(out), "--samples-out", str(draws), "--samples",
                             "100000"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len([n for n in _files(out_dir) if n.endswith(".partial")]) < 2:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    assert f"xpcvae infer: interrupted by {signal.Signals(signum).name}: stopped, no output written" in err
    assert _processes_naming(str(out)) == []  # no JVM left running
    time.sleep(1.0)
    assert _files(out_dir) == []


# -- the Python engine's streaming batch loop -------------------------------------------------------

def test_streamed_rows_equal_each_row_alone(tmp_path):
    """infer_csv streams the rows (summary and draws written as each row is done); every row, error
    rows among them, gets the summary and the draws it gets when it is the only row of the file."""
    from xpcvae.infer import batch
    from xpcvae.tools.harness import synthetic_spectra

    _, flux, sigma = synthetic_spectra(5, seed=4)
    flux[2, 7] = np.nan  # an error row between ok rows
    ids = [f"s{i}" for i in range(5)]
    src = tmp_path / "in.csv"
    write_spectra_csv(src, ids, flux, sigma)
    out, draws = tmp_path / "s.csv", tmp_path / "d.csv"
    assert batch.infer_csv(BUNDLE, src, out, n_samples=30, samples_out=draws, progress=False) == (4, 1)
    with open(out, newline="") as fh:
        header, *rows = list(csv.reader(fh))
    draw_lines = draws.read_text().splitlines()
    assert len(rows) == 5 and len(draw_lines) == 1 + 4 * 30
    for i in range(5):
        one = tmp_path / f"one{i}.csv"
        write_spectra_csv(one, ids[i:i + 1], flux[i:i + 1], sigma[i:i + 1])
        o, d = tmp_path / f"o{i}.csv", tmp_path / f"od{i}.csv"
        batch.infer_csv(BUNDLE, one, o, n_samples=30, samples_out=d, progress=False)
        with open(o, newline="") as fh:
            assert list(csv.reader(fh)) == [header, rows[i]]
        alone = d.read_text().splitlines()
        assert alone[0] == draw_lines[0]
        assert alone[1:] == [line for line in draw_lines[1:] if line.startswith(f"{ids[i]},")]
        assert len(alone) == (1 if i == 2 else 31)
