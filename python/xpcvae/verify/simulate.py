"""Simulated observations for the checks that sample: the bundle's forward model and the XP noise model."""

from __future__ import annotations

import numpy as np

from xpcvae import params
from xpcvae.bundle import ModelBundle
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import model_spectra
from xpcvae.simulate.noise import NoiseModel

#: G magnitudes of the simulated spectra (bright to moderate: where a posterior is informative)
G_RANGE = (11.0, 15.0)
#: the parameters are drawn from this central part of the prior box in unit coordinates
UNIT_RANGE = (0.05, 0.95)


def simulated_spectra(bundle: ModelBundle, n: int, seed: int):
    """``(theta, flux, sigma)``: ``n`` noisy spectra of the bundle's forward model at parameters drawn
    uniformly inside the prior box, observed at G uniform in :data:`G_RANGE` with the default noise model."""
    r = np.random.default_rng(seed)
    theta = params.from_unit(r.uniform(*UNIT_RANGE, (n, params.NDIM)))
    clean = model_spectra(theta, ForwardConfig.from_manifest(bundle.manifest), bundle.wavelength)
    g = r.uniform(*G_RANGE, n)
    sigma = np.asarray(NoiseModel.default().sigma(clean, g[:, None]), dtype=float)
    return theta, clean + sigma * r.standard_normal(clean.shape), sigma
