"""Summaries of the forward model's mismatch with real spectra, for the validation report
(the residuals themselves: :mod:`xpcvae.simulate.residuals`)."""

from __future__ import annotations

import numpy as np


def rms_of_mean(rel, model_scaled) -> np.ndarray:
    """Per star, the rms over wavelength of ``rel x model`` (a residual or noise in units of the
    mean flux), in % -- the weighting of gof_chi2."""
    return np.sqrt(np.mean((rel * model_scaled) ** 2, axis=1)) * 100
