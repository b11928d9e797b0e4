"""The run directory (xpcvae.train.run.Run) and the simulated test split that evaluation and export share."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xpcvae.cli import main
from xpcvae.train.run import Run, RunError


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the tiny trained run (tests below modify it)."""
    return Run(shutil.copytree(tiny_run, tmp_path / "run"))


def test_a_trained_run_has_the_documented_files(tiny_run):
    run = Run(tiny_run)
    for path in (run.config_path, run.split_path, run.best_checkpoint, run.last_checkpoint, run.log_path,
                 run.history_plot_path):
        assert path.is_file() and path.parent == tiny_run, path
    assert not run.residual_templates_path.exists()  # the tiny run does not use residual templates
    assert run.eval_dir == tiny_run / "eval"
    with np.load(tiny_run / "split.npz") as z:
        np.testing.assert_array_equal(run.test_indices(), z["test"])
        np.testing.assert_array_equal(run.test_indices(7), z["test"][:7])
    model, cfg = run.load_model()
    assert not model.training
    assert cfg["checkpoint"]["file"] == "best.pt" and cfg["checkpoint"]["epoch"] >= 1
    assert cfg["model"]["mixture_components"] == 3


def test_broken_runs_are_named_errors(run_copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a training run"):
        Run(tmp_path / "nothing").read_config()
    run_copy.best_checkpoint.write_bytes(run_copy.best_checkpoint.read_bytes()[:100])
    with pytest.raises(RunError, match="best.pt"):
        run_copy.load_model()
    run_copy.config_path.write_text(json.dumps({"model": {}}))
    with pytest.raises(RunError, match="lacks training"):
        run_copy.read_config()
    run_copy.config_path.write_text("{not json")
    with pytest.raises(RunError, match="not valid JSON"):
        run_copy.read_config()


def test_export_of_a_broken_run_is_a_one_line_error(run_copy, tmp_path, capsys):
    run_copy.best_checkpoint.write_bytes(b"")
    rc = main(["export", "--run", str(run_copy), "--out", str(tmp_path / "bundle")])
    err = capsys.readouterr().err
    assert rc == 2 and "best.pt" in err and "Traceback" not in err
    assert not (tmp_path / "bundle").exists()


def test_a_grid_of_another_size_is_refused(tiny_run, tiny_grid):
    small = type(tiny_grid)(parameters=tiny_grid.parameters[:100], flux=tiny_grid.flux[:100])
    with pytest.raises(RunError, match="not the same grid"):
        Run(tiny_run).grid(small)


def test_the_test_split_is_observed_through_the_run_s_observation_model(tiny_run, tiny_grid):
    from xpcvae.train.evaluate import observe_test_split

    run = Run(tiny_run)
    obs = run.observation_model()
    assert obs.settings() == {"error_shapes": "family", "model_error": 0.0, "residual_templates": False}
    test = run.test_indices(50)
    g = np.linspace(11.0, 15.0, 50)
    truth, flux, sigma = observe_test_split(run, tiny_grid, obs, g, seed=4, n_test=50)
    np.testing.assert_array_equal(truth, np.asarray(tiny_grid.parameters)[test])
    # without model error the flux is the clean test spectrum plus the reported noise
    z = (flux - np.asarray(tiny_grid.flux, dtype=float)[test]) / sigma
    assert abs(z.std() - 1.0) < 0.05 and abs(z.mean()) < 0.05
    # fainter stars get larger uncertainties; the same seed gives the same spectra
    assert np.median(sigma[-10:]) > 2 * np.median(sigma[:10])
    again = observe_test_split(run, tiny_grid, obs, g, seed=4, n_test=50)
    np.testing.assert_array_equal(again[1], flux)
    with pytest.raises(ValueError, match="one per test spectrum"):
        observe_test_split(run, tiny_grid, obs, g[:10], seed=4, n_test=50)


def test_export_checks_onnx_on_the_run_s_own_test_split(run_copy, tiny_grid, tmp_path):
    from xpcvae.export.networks import run_check_spectra
    from xpcvae.data.gridfile import write_grid

    assert run_check_spectra(run_copy) is None  # the tiny run records no grid file
    grid_path = write_grid(tmp_path / "grid.h5", tiny_grid.parameters, tiny_grid.wavelength, tiny_grid.flux,
                           tiny_grid.norm)
    cfg = run_copy.read_config()
    cfg["grid_path"] = str(grid_path)
    run_copy.write_config(cfg)
    flux, sigma = run_check_spectra(run_copy, n=120)
    test = run_copy.test_indices(120)
    z = (flux - np.asarray(tiny_grid.flux, dtype=float)[test]) / sigma
    assert flux.shape == (len(test), tiny_grid.flux.shape[1])
    assert abs(z.std() - 1.0) < 0.05


def test_evaluate_writes_into_the_run_s_eval_directory(run_copy, tiny_grid):
    from xpcvae.train.evaluate import evaluate_run

    metrics = evaluate_run(run_copy.path, g_mags=(12.0,), n_test=30, n_samples=40, grid=tiny_grid, progress=False)
    assert metrics["n_test"] == 30 and set(metrics["noise_levels"]) == {"G=12"}
    for name in ("metrics.json", "metrics.md", "recovery.png", "calibration_pp.png", "corner_example.png"):
        assert (run_copy.eval_dir / name).is_file(), name
