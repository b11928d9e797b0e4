"""A training run directory: the one place that knows its layout (docs/training.md).

Training writes a run, evaluation and export read it; all of them go through :class:`Run`,
so a file of the run is named here and nowhere else.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import torch

from xpcvae.atomic import atomic_path
from xpcvae.data.gridfile import Grid, read_grid
from xpcvae.forward.config import ForwardConfig
from xpcvae.simulate.noise import NoiseModel
from xpcvae.simulate.observe import ObservationModel, ResidualTemplates
from xpcvae.train.model import CVAE, CVAEConfig

SPLITS = ("train", "val", "test")
#: what every checkpoint holds (:meth:`xpcvae.train.training.Trainer._state`)
CHECKPOINT_KEYS = ("model", "optimizer", "epoch", "best_val", "best_epoch", "stale", "history", "model_cfg")


class RunError(ValueError):
    """A run directory is malformed or does not match what it is used with (grid, parent run)."""


class Run:
    """``Run(path)``: the files of the training run in directory ``path``.

    - ``config.json``: model architecture, training settings, grid path and provenance
    - ``split.npz``: the train / validation / test indices into the grid
    - ``last.pt``: checkpoint after the latest epoch (the resume point)
    - ``best.pt``: checkpoint with the lowest validation cost once KL annealing is over
    - ``log.csv`` and ``training.png``: the history, one row per epoch, and its figure
    - ``residual_templates.npz``: the run's residual templates, when it uses them
    - ``real_photospheres.npz``: the run's pool of veiled real photospheres, when it trains on them
    - ``eval/``: the default output directory of ``xpcvae evaluate``
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    # -- layout ------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def split_path(self) -> Path:
        return self.path / "split.npz"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "best.pt"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "last.pt"

    @property
    def log_path(self) -> Path:
        return self.path / "log.csv"

    @property
    def history_plot_path(self) -> Path:
        return self.path / "training.png"

    @property
    def residual_templates_path(self) -> Path:
        return self.path / "residual_templates.npz"

    @property
    def real_photospheres_path(self) -> Path:
        return self.path / "real_photospheres.npz"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    # -- configuration and split ---------------------------------------------------------------
    def has_config(self) -> bool:
        return self.config_path.exists()

    def read_config(self) -> dict:
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.path} is not a training run (no {self.config_path.name})")
        try:
            config = json.loads(self.config_path.read_text())
        except ValueError as exc:
            raise RunError(f"{self.config_path}: not valid JSON ({exc})") from None
        missing = [k for k in ("model", "training") if not isinstance(config, dict) or k not in config]
        if missing:
            raise RunError(f"{self.config_path}: lacks {' and '.join(missing)} (not written by xpcvae train?)")
        return config

    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.config_path) as tmp:
            tmp.write_text(json.dumps(config, indent=2))

    def has_split(self) -> bool:
        return self.split_path.exists()

    def read_split(self) -> dict:
        """The train / val / test index arrays."""
        if not self.split_path.exists():
            raise FileNotFoundError(f"{self.split_path} does not exist (the run has not started)")
        try:
            with np.load(self.split_path) as z:
                return {k: z[k] for k in SPLITS}
        except (KeyError, OSError, ValueError) as exc:
            raise RunError(f"{self.split_path}: not a split of {', '.join(SPLITS)} indices ({exc})") from None

    def write_split(self, split: dict) -> None:
        with atomic_path(self.split_path, suffix=".npz") as tmp:
            np.savez(tmp, **split)

    def test_indices(self, n: int | None = None) -> np.ndarray:
        """The first ``n`` (default: all) grid rows of the held-out test split."""
        test = self.read_split()["test"]
        return test if n is None else test[:n]

    def grid(self, grid: Grid | None = None) -> Grid:
        """The run's grid (the one its config records, unless ``grid`` is given), checked to have
        the run's size so that its split indices mean the same spectra."""
        cfg = self.read_config()
        if grid is None:
            if not cfg.get("grid_path"):
                raise RunError(f"run {self.path} does not record its grid path; pass the grid")
            grid = read_grid(cfg["grid_path"])
        if len(grid.parameters) != cfg.get("grid_size", len(grid.parameters)):
            raise RunError(f"grid has {len(grid.parameters)} spectra but run {self.path} was trained on "
                             f"{cfg['grid_size']}: not the same grid, the test split would be wrong")
        return grid

    # -- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, path: Path, state: dict) -> None:
        with atomic_path(path, suffix=".pt") as tmp:
            torch.save(state, tmp)

    def read_checkpoint(self, path: Path) -> dict:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist (has the run finished an epoch?)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except (RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            raise RunError(f"{path}: not a readable checkpoint ({exc})") from None
        missing = [k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise RunError(f"{path}: checkpoint lacks {', '.join(missing)}")
        return state

    def load_model(self, checkpoint: str = "best.pt") -> tuple[CVAE, dict]:
        """The trained model (in eval mode) of ``checkpoint`` and the run's config, with
        ``config["checkpoint"]`` describing the checkpoint."""
        cfg = self.read_config()
        state = self.read_checkpoint(self.path / checkpoint)
        model = CVAE(CVAEConfig.from_dict(cfg["model"]))
        model.load_state_dict(state["model"])
        model.eval()
        cfg["checkpoint"] = {"file": checkpoint, "epoch": state["epoch"], "best_val_cost": state["best_val"]}
        return model, cfg

    # -- observation model -------------------------------------------------------------------------
    def build_observation_model(self, noise, settings: dict, grid_attrs: dict | None = None) -> ObservationModel:
        """The observation model of ``settings`` (TrainConfig fields) for training; residual templates
        are built once, from the forward model of the grid (its ``grid_attrs``), and kept in the run."""
        path = self.residual_templates_path
        if settings.get("residual_templates") and not path.exists():
            ResidualTemplates.from_library(ForwardConfig.from_grid_attrs(grid_attrs)).save(path)
        return ObservationModel.from_settings(noise, settings, residuals_path=path)

    def real_photospheres(self, forward_config: ForwardConfig, seed: int):
        """The run's pool of veiled real photospheres (:mod:`xpcvae.train.real_photospheres`), drawn
        once (with ``seed``) and kept in the run so that a resumed run trains on the same pool."""
        from xpcvae.train.real_photospheres import RealPhotospheres  # lazy: the library only when used

        path = self.real_photospheres_path
        if not path.exists():
            RealPhotospheres.build(forward_config, seed=seed).save(path)
        return RealPhotospheres.load(path)

    def observation_model(self, noise=None, overrides: dict | None = None) -> ObservationModel:
        """The observation model the run was trained with (its config's settings, its residual
        templates), ``overrides`` replacing some settings; noise: the default noise model."""
        settings = {**(self.read_config().get("training") or {}), **(overrides or {})}
        return ObservationModel.from_settings(noise or NoiseModel.default(), settings,
                                              residuals_path=self.residual_templates_path)


def load_run_model(run_dir, checkpoint: str = "best.pt") -> tuple[CVAE, dict]:
    """``Run(run_dir).load_model(checkpoint)``: the trained model (eval mode) and the run's config."""
    return Run(run_dir).load_model(checkpoint)
