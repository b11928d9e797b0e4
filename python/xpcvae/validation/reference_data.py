"""The simulated spectra of the reference-posterior comparison (docs/validation/reference-posteriors.md).

Parameters are drawn uniformly over the prior box (the CVAE's training prior: the grid is a Sobol
sequence over the same box); each spectrum is observed with the bundle's own observation model
(:class:`xpcvae.simulate.observe.ObservationModel`: noise model, error shapes) but without the
unreported terms (residual templates, model error), so that the observation is exactly
``flux = model(theta) + sigma * N(0, 1)`` with the reported ``sigma``: the Gaussian likelihood of
:class:`xpcvae.validation.nested.GaussianLikelihood` with those errors is the model that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import params
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import cached_model

#: the first source id of the simulated spectra (ids are SOURCE_ID_BASE + row; they key the CVAE's draws)
SOURCE_ID_BASE = 9_000_000_000


@dataclass
class ReferenceSpectra:
    """Simulated spectra with their truths, G magnitudes and source ids (row i of each)."""

    theta: np.ndarray      # (N, 7) truths, physical units
    flux: np.ndarray       # (N, 343) observed, mean-normalised model + noise
    sigma: np.ndarray      # (N, 343) reported 1-sigma errors (the noise's actual sigma)
    g_mag: np.ndarray      # (N,)
    source_id: np.ndarray  # (N,) int64
    observation: dict      # what was simulated and what was left out, for the report


def training_observation(manifest: dict) -> dict:
    """The observation settings the bundle was trained with (``provenance.training``)."""
    training = (manifest.get("provenance") or {}).get("training") or {}
    return {"error_shapes": training.get("error_shapes", "family"),
            "model_error": float(training.get("model_error", 0.0)),
            "residual_templates": bool(training.get("residual_templates", False))}


def simulate(manifest: dict, g_mags, seed: int, noise=None, library=None) -> ReferenceSpectra:
    """One spectrum per entry of ``g_mags``: theta ~ U(prior box) from ``numpy.random.default_rng(seed)``,
    observed by the bundle's observation model without residual templates and model error
    (torch generator seeded with ``seed``)."""
    import torch  # lazy: the observation model is the training code's (the `train` extra)

    from xpcvae.simulate.noise import NoiseModel
    from xpcvae.simulate.observe import ObservationModel

    g = np.asarray(g_mags, dtype=np.float64)
    if g.ndim != 1 or g.size < 1 or not np.all(np.isfinite(g)):
        raise ValueError(f"g_mags must be a non-empty 1-D array of finite magnitudes, got {g_mags!r}")
    trained = training_observation(manifest)
    noise = NoiseModel.default() if noise is None else noise
    obs = ObservationModel(noise, error_shapes=trained["error_shapes"], model_error=0.0, library=library)
    theta = params.from_unit(np.random.default_rng(seed).random((g.size, params.NDIM)))
    clean, _ = cached_model(ForwardConfig.from_manifest(manifest)).spectra(theta)
    gen = torch.Generator().manual_seed(int(seed))
    flux, sigma = obs(torch.as_tensor(clean), torch.as_tensor(g), gen)
    simulated = {**obs.settings(), "residual_templates": False}
    left_out = [k for k in ("model_error", "residual_templates") if trained[k]]
    return ReferenceSpectra(theta, flux.numpy().astype(np.float64), sigma.numpy().astype(np.float64), g,
                            SOURCE_ID_BASE + np.arange(g.size, dtype=np.int64),
                            {"trained_with": trained, "simulated_with": simulated, "left_out": left_out})
