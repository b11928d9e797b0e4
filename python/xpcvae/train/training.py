"""Training of the CVAE on a model grid with per-batch noise augmentation.

The run directory (:class:`xpcvae.train.run.Run`) holds everything needed to resume, evaluate
and export. Every epoch reseeds torch from ``(seed, epoch)``, so an interrupted run resumed
from its last checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.forward.config import ForwardConfig
from xpcvae.simulate.observe import ObservationModel, observe
from xpcvae.train.model import CVAE, CVAEConfig, kl_annealing
from xpcvae.train.run import Run, RunError

LOG_FIELDS = (
    "epoch", "lr", "kl_weight", "train_recon", "train_kl", "train_cost",
    "val_recon", "val_kl", "val_cost", "seconds",
)


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 512
    lr: float = 1e-3
    lr_min: float = 1e-5
    weight_decay: float = 0.0
    kl_start: float = 5.0     # talk: 50 (of 3800 epochs)
    kl_end: float = 30.0      # talk: 150
    patience: int = 20        # early stopping on the validation cost, after kl_end
    g_mag_min: float = 11.0   # noise augmentation: G uniform in [g_mag_min, g_mag_max]
    g_mag_max: float = 17.5
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    split_seed: int = 2024
    seed: int = 1
    threads: int = 2
    max_val: int = 8192       # validation subset evaluated each epoch
    time_limit_s: float | None = None  # stop (resumably) after this wall time
    error_shapes: str = "family"  # reported-error distortion: "family" or "library" (xpcvae.simulate.observe)
    model_error: float = 0.0      # rms of the unreported fractional model error (xpcvae.simulate.observe)
    residual_templates: bool = False  # multiply by real stars' measured residuals (xpcvae.simulate.observe)
    real_fraction: float = 0.0    # share of each batch made of veiled real photospheres (xpcvae.train.real_photospheres)
    q_warmup_epochs: int = 0      # first epochs train only q(z|x,y) (after xpcvae import-bundle: q is new)
    epoch_batches: int | None = None  # batches per epoch (a random part of the training split); None: all
    objective: str = "elbo"       # "elbo" (CVAE: recon + KL(q || r1)) or "marginal" (-log p(x|y) of r1, r2; no q)
    marginal_samples: int = 2     # draws per mixture component of the "marginal" objective
    label_noise: bool = False     # real rows: r2 convolved with their label errors (xpcvae.train.model.decoder_log_prob)


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Deterministic train/validation/test split of ``n`` grid rows."""
    if n < 3:
        raise ValueError(f"a grid of {n} spectra is too small to split into train/validation/test")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    n_val = max(1, int(round(n * val_fraction)))
    return {
        "test": np.sort(perm[:n_test]),
        "val": np.sort(perm[n_test : n_test + n_val]),
        "train": np.sort(perm[n_test + n_val :]),
    }


def noisy_batch(flux: torch.Tensor, noise, g_mag: torch.Tensor, generator: torch.Generator,
                teff: torch.Tensor | None = None):
    """Simulated observations of the grid spectra ``flux`` at magnitudes ``g_mag`` (see :mod:`xpcvae.simulate.observe`);
    ``noise``: an :class:`~xpcvae.simulate.observe.ObservationModel` or a bare noise model (default settings);
    ``teff``: the spectra's Teff (for residual templates)."""
    if isinstance(noise, ObservationModel):
        return noise(flux, g_mag, generator, teff=teff)
    return observe(flux, noise, g_mag, generator)


def mix_real(flux, sigma, x_unit, real, n: int, generator: torch.Generator, label_errors: bool = False):
    """The simulated batch (flux, sigma, x_unit) with ``n`` rows of the real-photosphere pool ``real``
    (:class:`~xpcvae.train.real_photospheres.RealPhotospheres`) appended; with ``label_errors`` a fourth
    element, the label errors on the unit box: 0 for the simulated rows (their labels are exact),
    the pool's for the real rows."""
    drawn = real.draw(n, generator, label_errors=label_errors)
    rf, re, rx = drawn[:3]
    out = (torch.cat([flux, rf.to(flux.dtype)]), torch.cat([sigma, re.to(sigma.dtype)]),
           torch.cat([x_unit, rx.to(x_unit.dtype)]))
    if not label_errors:
        return out
    return out + (torch.cat([torch.zeros_like(x_unit), drawn[3].to(x_unit.dtype)]),)


class Trainer:
    """Owns a run directory; :meth:`fit` trains (or resumes) to completion."""

    def __init__(self, grid, run_dir, noise, model_cfg: CVAEConfig | None = None,
                 train_cfg: TrainConfig | None = None, grid_path: str | None = None, init_from=None):
        self.run = Run(run_dir)
        self.run.path.mkdir(parents=True, exist_ok=True)
        self.noise = noise
        self.grid = grid
        if self.run.has_config():
            # a resumed run keeps its original settings; only the time limit may change
            saved = self.run.read_config()
            self.model_cfg = CVAEConfig.from_dict(saved["model"])
            limit = train_cfg.time_limit_s if train_cfg else None
            self.cfg = TrainConfig(**saved["training"])
            self.cfg.time_limit_s = limit
            if saved.get("grid_size") not in (None, len(grid.parameters)):
                raise RunError(
                    f"run {self.run} was started on a grid of {saved['grid_size']} spectra, "
                    f"this grid has {len(grid.parameters)}"
                )
        else:
            self.model_cfg = model_cfg or CVAEConfig()
            self.cfg = train_cfg or TrainConfig()
            if init_from is not None:
                # fine-tuning keeps the parent's architecture and, crucially, its split: a
                # different split would leak the parent's training spectra into our test set
                parent = Run(init_from).read_config()
                self.model_cfg = CVAEConfig.from_dict(parent["model"])
                self.cfg.split_seed = parent["training"]["split_seed"]
                self.cfg.val_fraction = parent["training"]["val_fraction"]
                self.cfg.test_fraction = parent["training"]["test_fraction"]
                if parent.get("grid_size") != len(grid.parameters):
                    raise RunError(f"--init-from {init_from}: trained on a grid of {parent.get('grid_size')} "
                                     f"spectra, this grid has {len(grid.parameters)}")
            saved = {
                "init_from": str(init_from) if init_from is not None else None,
                "model": self.model_cfg.to_dict(),
                "training": asdict(self.cfg),
                "grid_path": str(grid_path) if grid_path else None,
                "grid_size": int(len(grid.parameters)),
                "grid_attrs": {k: _jsonable(v) for k, v in dict(grid.attrs).items()},
                "noise": noise.describe() if hasattr(noise, "describe") else type(noise).__name__,
            }
            self.run.write_config(saved)
        # the observation model of this run's settings (a resumed run rebuilds the one it started with)
        if not isinstance(noise, ObservationModel):
            self.noise = self.run.build_observation_model(noise, asdict(self.cfg),
                                                          {k: _jsonable(v) for k, v in dict(grid.attrs).items()})
        if not 0.0 <= self.cfg.real_fraction < 1.0:
            raise ValueError(f"real_fraction must be in [0, 1), got {self.cfg.real_fraction}")
        if self.cfg.objective not in ("elbo", "marginal"):
            raise ValueError(f"objective must be 'elbo' or 'marginal', got {self.cfg.objective!r}")
        if self.cfg.label_noise and self.cfg.real_fraction <= 0.0:
            raise ValueError("label_noise applies to the real rows' labels: it needs real_fraction > 0")
        if self.cfg.q_warmup_epochs < 0:
            raise ValueError(f"q_warmup_epochs must be >= 0, got {self.cfg.q_warmup_epochs}")
        self.real = None
        if self.cfg.real_fraction > 0.0:
            self.real = self.run.real_photospheres(
                ForwardConfig.from_grid_attrs({k: _jsonable(v) for k, v in dict(grid.attrs).items()}),
                seed=self.cfg.seed)
        if self.run.has_split():
            self.split = self.run.read_split()
        else:
            self.split = split_indices(len(grid.parameters), self.cfg.val_fraction,
                                       self.cfg.test_fraction, self.cfg.split_seed)
            self.run.write_split(self.split)
        torch.set_num_threads(self.cfg.threads)
        self.flux = torch.as_tensor(np.asarray(grid.flux, dtype=np.float32))
        self.x_unit = torch.as_tensor(params.to_unit(grid.parameters).astype(np.float32))
        self.teff = torch.as_tensor(np.asarray(grid.parameters)[:, params.INDEX["teff"]], dtype=torch.float64)
        torch.manual_seed(self.cfg.seed)  # reproducible initial weights
        self.model = CVAE(self.model_cfg)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr,
                                          weight_decay=self.cfg.weight_decay)
        self.epoch = 0
        self.best_val = math.inf
        self.best_epoch = -1
        self.stale = 0
        self.history: list[dict] = []
        if self.run.last_checkpoint.exists():
            self._load(self.run.last_checkpoint)
        elif init_from is not None:
            parent = Run(init_from)
            parent_split = parent.read_split()
            if not all(np.array_equal(parent_split[k], self.split[k]) for k in parent_split):
                raise RunError(f"--init-from {init_from}: the parent run's split differs from this run's")
            state = parent.read_checkpoint(parent.best_checkpoint)
            self.model.load_state_dict(state["model"])  # weights and input standardisation
        else:
            self._fit_input_standardisation()

    # -- state -----------------------------------------------------------------
    def _fit_input_standardisation(self):
        g = torch.Generator().manual_seed(self.cfg.seed)
        idx = torch.as_tensor(self.split["train"][: 20000])
        gm = self.cfg.g_mag_min + (self.cfg.g_mag_max - self.cfg.g_mag_min) * torch.rand(len(idx), generator=g)
        flux, sigma = noisy_batch(self.flux[idx], self.noise, gm, g, self.teff[idx])
        self.model.features.fit(flux, sigma)

    def _state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "best_val": self.best_val,
            "best_epoch": self.best_epoch,
            "stale": self.stale,
            "history": self.history,
            "model_cfg": self.model_cfg.to_dict(),
        }

    def _save(self, path: Path):
        self.run.save_checkpoint(path, self._state())

    def _load(self, path: Path):
        state = self.run.read_checkpoint(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = state["epoch"]
        self.best_val = state["best_val"]
        self.best_epoch = state["best_epoch"]
        self.stale = state["stale"]
        self.history = state["history"]

    def lr_at(self, epoch: int) -> float:
        """Cosine decay from lr to lr_min over the configured epochs."""
        c = self.cfg
        return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * min(epoch, c.epochs) / c.epochs))

    # -- loop ------------------------------------------------------------------
    def _freeze_for_q_warmup(self, warmup: bool) -> None:
        """During the q warm-up only the recognition encoder learns: the inference networks (r1, r2 and
        the input standardisation) of an imported bundle stay as they were while q catches up."""
        for name, p in self.model.named_parameters():
            p.requires_grad_(not warmup or name.startswith("q."))

    def _loss_terms(self, flux, sigma, x_unit, x_error=None):
        """(reconstruction, KL) per example: the CVAE's ELBO terms, or for the "marginal" objective
        -log p(x|y) of the inference networks (:meth:`CVAE.marginal_nll`) and a zero KL; ``x_error``:
        label errors (unit box) the decoder density is convolved with."""
        if self.cfg.objective == "marginal":
            nll = self.model.marginal_nll(flux, sigma, x_unit, self.cfg.marginal_samples, x_error)
            return nll, torch.zeros_like(nll)
        return self.model.loss_terms(flux, sigma, x_unit, x_error)

    def _evaluate(self) -> tuple[float, float]:
        idx = torch.as_tensor(self.split["val"][: self.cfg.max_val])
        g = torch.Generator().manual_seed(self.cfg.seed + 7919)
        gm = self.cfg.g_mag_min + (self.cfg.g_mag_max - self.cfg.g_mag_min) * torch.rand(len(idx), generator=g)
        torch.manual_seed(self.cfg.seed + 104729)
        self.model.eval()
        recon_sum = kl_sum = 0.0
        with torch.no_grad():
            for chunk in torch.split(idx, 2048):
                gm_c = gm[: len(chunk)]
                gm = gm[len(chunk):]
                flux, sigma = noisy_batch(self.flux[chunk], self.noise, gm_c, g, self.teff[chunk])
                recon, kl = self._loss_terms(flux, sigma, self.x_unit[chunk])
                recon_sum += float(recon.sum())
                kl_sum += float(kl.sum())
        return recon_sum / len(idx), kl_sum / len(idx)

    def fit(self, progress: bool = True) -> dict:
        c = self.cfg
        t_start = time.time()
        train_idx = torch.as_tensor(self.split["train"])
        n_batches = max(1, len(train_idx) // c.batch_size)
        if c.epoch_batches is not None:
            if c.epoch_batches < 1:
                raise ValueError(f"epoch_batches must be >= 1, got {c.epoch_batches}")
            n_batches = min(n_batches, c.epoch_batches)  # short epochs: a fresh random part of the split each
        epochs = tqdm(range(self.epoch, c.epochs), initial=self.epoch, total=c.epochs,
                      desc="training", unit="epoch", disable=not progress)
        stopped = "completed"
        n_real = int(round(c.batch_size * c.real_fraction / (1.0 - c.real_fraction))) if self.real else 0
        for epoch in epochs:
            t0 = time.time()
            self._freeze_for_q_warmup(epoch < c.q_warmup_epochs)
            lr = self.lr_at(epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            g = torch.Generator().manual_seed(c.seed * 100003 + epoch)
            torch.manual_seed(c.seed * 100019 + epoch)
            perm = train_idx[torch.randperm(len(train_idx), generator=g)]
            self.model.train()
            tr_recon = tr_kl = 0.0
            for b in range(n_batches):
                idx = perm[b * c.batch_size : (b + 1) * c.batch_size]
                gm = c.g_mag_min + (c.g_mag_max - c.g_mag_min) * torch.rand(len(idx), generator=g)
                flux, sigma = noisy_batch(self.flux[idx], self.noise, gm, g, self.teff[idx])
                x_unit, x_error = self.x_unit[idx], None
                if n_real and c.label_noise:
                    flux, sigma, x_unit, x_error = mix_real(flux, sigma, x_unit, self.real, n_real, g, True)
                elif n_real:
                    flux, sigma, x_unit = mix_real(flux, sigma, x_unit, self.real, n_real, g)
                recon, kl = self._loss_terms(flux, sigma, x_unit, x_error)
                beta = kl_annealing(epoch + b / n_batches, c.kl_start, c.kl_end)
                loss = (recon + beta * kl).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 10.0)
                self.optimizer.step()
                tr_recon += float(recon.detach().mean())
                tr_kl += float(kl.detach().mean())
            val_recon, val_kl = self._evaluate()
            row = {
                "epoch": epoch + 1, "lr": lr, "kl_weight": kl_annealing(epoch + 1, c.kl_start, c.kl_end),
                "train_recon": tr_recon / n_batches, "train_kl": tr_kl / n_batches,
                "train_cost": (tr_recon + tr_kl) / n_batches,
                "val_recon": val_recon, "val_kl": val_kl, "val_cost": val_recon + val_kl,
                "seconds": time.time() - t0,
            }
            self.history.append(row)
            self.epoch = epoch + 1
            if self.epoch >= c.kl_end:
                if row["val_cost"] < self.best_val:
                    self.best_val, self.best_epoch, self.stale = row["val_cost"], self.epoch, 0
                    self._save(self.run.best_checkpoint)
                else:
                    self.stale += 1
            self._save(self.run.last_checkpoint)
            self.write_log()
            epochs.set_postfix(val_cost=f"{row['val_cost']:.3f}", kl=f"{val_kl:.2f}", beta=f"{row['kl_weight']:.2f}")
            if self.epoch >= c.kl_end and self.stale >= c.patience:
                stopped = f"early stop: no validation improvement for {c.patience} epochs"
                break
            if c.time_limit_s is not None and time.time() - t_start > c.time_limit_s:
                stopped = "time limit reached (resume with the same command)"
                break
        if not self.run.best_checkpoint.exists():
            self._save(self.run.best_checkpoint)
            self.best_epoch = self.epoch
        self.plot_history()
        return {"stopped": stopped, "epochs": self.epoch, "best_epoch": self.best_epoch,
                "best_val_cost": self.best_val, "seconds": time.time() - t_start}

    # -- outputs ---------------------------------------------------------------
    def write_log(self):
        with atomic_path(self.run.log_path, suffix=".csv") as tmp:
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=LOG_FIELDS)
                w.writeheader()
                w.writerows(self.history)

    def plot_history(self):
        plot_training_history(self.history, self.run.history_plot_path)


def plot_training_history(history: list[dict], out) -> None:
    """The talk's Figure 6: total cost H, KL term and reconstruction term L vs epoch."""
    # lazy: selecting the Agg backend is a process-wide side effect, made only when a figure is drawn
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    ep = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, title in zip(axes, ("cost", "kl", "recon"),
                              ("total cost H = L + KL", "KL divergence", "reconstruction L")):
        ax.plot(ep, [h[f"train_{key}"] for h in history], label="training")
        ax.plot(ep, [h[f"val_{key}"] for h in history], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    with atomic_path(Path(out), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _jsonable(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, bytes):
        return v.decode()
    return v
