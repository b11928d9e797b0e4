"""The command line: clear one-line errors and non-zero exits for bad inputs."""

import subprocess
import sys

import h5py
import numpy as np

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
