"""The command line: clear one-line errors and non-zero exits for bad inputs."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from xpcvae.cli import main


def test_train_rejects_a_grid_without_the_expected_datasets(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["something"] = np.zeros(3)
    rc = main(["train", "--grid", str(bad), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc != 0
    assert "parameters" in err or "flux" in err  # names the missing dataset
    assert not (tmp_path / "run" / "last.pt").exists()


def test_train_rejects_a_mismatched_wavelength_grid(tiny_grid, tmp_path, capsys):
    # a grid in the documented layout, then its wavelength grid moved 1 nm to the red
    from xpcvae.data.gridfile import write_grid

    path = tmp_path / "shifted.h5"
    write_grid(path, tiny_grid.parameters[:10], tiny_grid.wavelength, tiny_grid.flux[:10], tiny_grid.norm[:10],
               {"photosphere": "blackbody"})
    with h5py.File(path, "r+") as f:
        f["wavelength"][...] = f["wavelength"][...] + 1.0
    rc = main(["train", "--grid", str(path), "--out", str(tmp_path / "run")])
    assert rc != 0
    assert "wavelength" in capsys.readouterr().err


def test_missing_grid_file(tmp_path, capsys):
    rc = main(["train", "--grid", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "run")])
    assert rc != 0
    assert "nope.h5" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "xpcvae.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("train", "evaluate", "export", "infer"):
        assert cmd in out.stdout


def test_a_programming_error_is_not_reported_as_a_user_error(tmp_path):
    """A bug (here a KeyError, then a TypeError, inside a command) ends with its traceback and a
    non-zero exit status, not with a one-line message that looks like bad input."""
    for bug in ("{}['missing']", "len(None)"):
        script = (
            "import sys\n"
            "import xpcvae.commands.forward_cmds as commands\n"
            "from xpcvae.cli import main\n"
            f"def broken(args):\n    return {bug}\n"
            "commands.cmd_inspect = broken\n"
            f"sys.exit(main(['inspect', {str(tmp_path / 'grid.h5')!r}]))\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert out.returncode not in (0, 2)  # 2 is the status of user errors
        assert "Traceback" in out.stderr and "in broken" in out.stderr
        assert out.stderr.splitlines()[-1].startswith(("KeyError", "TypeError"))


def test_a_user_error_is_one_line_with_status_2(tmp_path, capsys):
    rc = main(["grid", "--n", "10", "--out", str(tmp_path)])  # a directory, not a file name
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "is a directory" in err and "Traceback" not in err


def test_infer_refuses_seeds_and_sample_counts_the_engines_cannot_take(tmp_path, capsys):
    """Both engines take seeds in 0..2^64-1 (one message, rng.seed_error) and at most 2^31 - 1 draws: a
    larger seed is never wrapped onto a smaller one's draws; the Java message has no class name."""
    from pathlib import Path

    from xpcvae import rng

    root = Path(__file__).resolve().parents[1]
    launcher = root / "java" / "build" / "install" / "xpcvae" / "bin" / "xpcvae"
    common = ["--bundle", str(root / "export" / "default"), "--input", str(root / "examples" / "spectra.csv"),
              "--out", str(tmp_path / "s.csv")]
    for flag, value, says in (("--seed", str(2**64), rng.seed_error(str(2**64))),
                              ("--seed", "-1", rng.seed_error("-1")),
                              ("--samples", str(2**31), "--samples must be between 1 and 2147483647"),
                              ("--samples", "0", "--samples must be between 1 and 2147483647")):
        assert main(["infer", *common, flag, value]) == 2
        assert says in capsys.readouterr().err
        java = subprocess.run([str(launcher), "infer", *common, flag, value], capture_output=True, text=True)
        assert java.returncode == 2
        assert "Exception" not in java.stderr and value in java.stderr
        if flag == "--seed":
            assert says in java.stderr
    assert list(tmp_path.iterdir()) == []


def test_grid_count_options_refuse_out_of_range_integers_in_words(capsys):
    """--n must be >= 1 and --workers >= 0; argparse exits 2 naming what was expected."""
    for argv, words in ((["grid", "--n", "0", "--out", "x.h5"], "expected a positive integer, got 0"),
                        (["grid", "--workers", "-1", "--out", "x.h5"], "expected an integer >= 0, got -1"),
                        (["grid", "--n", "ten", "--out", "x.h5"], "expected a positive integer, got 'ten'")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert words in capsys.readouterr().err
