"""Veiling a real photosphere with the forward model's accretion component.

The one definition of "inject accretion into a real star's XP spectrum", used by the
injection-recovery validation (``xpcvae validate-accretion``) and available to training
on veiled real photospheres.

The physics is the forward model's step 5 (docs/science.md section 2): an accreting star's
surface flux is ``(1 - ff) F_phot + ff F_acc``, the photosphere covered by the accretion
columns replaced by the shock's emission (shock-heated spot + hydrogen slab,
:class:`xpcvae.forward.accretion.AccretionShock`; Calvet & Gullbring 1998, ApJ 509, 802;
Hartmann, Herczeg & Calvet 2016, ARA&A 54, 135). Both parts travel through the same
extinction and instrument. Fitting or simulating an accretor as a *real* non-accreting
template plus an accretion spectrum is the method of Herczeg & Hillenbrand (2008, ApJ 681,
594) and Manara et al. (2013, A&A 551, A107); here the template is a real Gaia XP spectrum
of a (non-accreting) APOGEE star, so everything but the accretion is real.

What sets the *ratio* of accretion to photosphere is the absolute surface flux: the forward
model gives F_acc and F_phot in W m^-2 nm^-1 at the star's surface, the real spectrum is
``O = s F_phot,true x attenuation`` with an unknown dilution ``s = (R/d)^2`` (and the
instrument's calibration). ``s`` is estimated once per star as the weighted least-squares
factor between ``O`` and the model photosphere at the star's APOGEE Teff, log g, [M/H] and
the A0 fitted to its spectrum (:func:`photosphere_scale`; the weights of ``gof_chi2``). A
single factor rather than the ratio ``O / model`` per wavelength: the per-wavelength ratio
would stamp the photosphere emulator's residuals and the spectrum's noise (tens of per cent
near 340 nm for faint stars) onto the injected accretion spectrum, whose shape must stay the
forward model's. The veiled spectrum is then

    O_veiled = (1 - ff) O + s ff F_acc x attenuation(A0),

which equals ``s x`` the forward model's extinguished spectrum at the injected parameters
exactly when the real star equals the model photosphere (``O = s F_phot x attenuation``).
With ``ff = 0`` it is the star itself. With log Mdot -> -inf it is *not* the star: the
columns then radiate as a blackbody at Teff (the forward model's spot with no heating), and
that is what the network was trained on.

Errors: the real noise realisation in ``O`` is kept, scaled with it by ``1 - ff``, so its
reported error is ``(1 - ff) sigma``. The added flux brings its own noise, drawn and
reported with the variance the training noise model (:class:`xpcvae.simulate.noise.NoiseModel`,
``sigma^2 = a F t + b t^2 + (c F)^2``) adds when the star's flux grows from ``(1 - ff) O`` to
``O_veiled``: the photon term ``a t`` of the added flux and the calibration floor's growth
(the background ``b t^2`` does not change). Both are evaluated in the star's own units: the
spectra divided by the unveiled star's mean flux, at its G magnitude -- the noise model's
``t = 10^(0.4 (G - 15))`` times that mean is the star's photon-count scale, which veiling does
not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xpcvae import params
from xpcvae.forward.gof import GOF_SYSTEMATIC
from xpcvae.forward.model import ForwardModel
from xpcvae.simulate.noise import NoiseModel


@dataclass
class VeiledSpectra:
    """Veiled spectra (N, 343) in the real spectra's flux units, and how they were made."""

    flux: np.ndarray  # (1 - ff) O + added (+ its noise, when drawn)
    flux_error: np.ndarray  # sqrt(((1 - ff) sigma)^2 + added_variance)
    added_flux: np.ndarray  # s ff F_acc x attenuation, noiseless
    added_variance: np.ndarray  # the noise model's variance increase, in the real flux units squared
    scale: np.ndarray  # (N,) s: real flux per unit model surface flux (photosphere_scale)
    theta: np.ndarray  # (N, 7) the parameters injected (star's Teff, log g, [M/H], A0 and the accretion)


def photosphere_scale(flux, flux_error, model_photosphere) -> np.ndarray:
    """(N,) the factor ``s`` that best maps the model photosphere (extinguished, surface flux
    units) onto the observed ``flux``: weighted least squares with the weights of ``gof_chi2``
    (variance = flux_error^2 + (1 % of the model)^2, :data:`xpcvae.forward.gof.GOF_SYSTEMATIC`)."""
    o = np.asarray(flux, dtype=float)
    e = np.asarray(flux_error, dtype=float)
    m = np.asarray(model_photosphere, dtype=float)
    if o.shape != m.shape or e.shape != o.shape:
        raise ValueError(f"photosphere_scale: flux {o.shape}, flux_error {e.shape} and model {m.shape} differ in shape")
    if np.any(~np.isfinite(m)) or np.any(m.mean(axis=1) <= 0):
        raise ValueError("photosphere_scale: the model photosphere must be finite with a positive mean")
    # iterate once: the systematic floor is relative to the *scaled* model
    s = o.mean(axis=1) / m.mean(axis=1)
    for _ in range(2):
        var = e**2 + (GOF_SYSTEMATIC * s[:, None] * m) ** 2
        s = (o * m / var).sum(axis=1) / (m * m / var).sum(axis=1)
    if np.any(~np.isfinite(s)) or np.any(s <= 0):
        bad = int(np.argmax(~np.isfinite(s) | (s <= 0)))
        raise ValueError(f"photosphere_scale: no positive scale for row {bad} (is its flux positive?)")
    return s


def check_veiling_inputs(flux, flux_error, g_mag, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The inputs as float arrays, or a ValueError naming what is wrong."""
    o = np.atleast_2d(np.asarray(flux, dtype=float))
    e = np.atleast_2d(np.asarray(flux_error, dtype=float))
    g = np.atleast_1d(np.asarray(g_mag, dtype=float))
    th = params.validate(np.atleast_2d(np.asarray(theta, dtype=float)), what="injected parameters")
    if e.shape != o.shape:
        raise ValueError(f"veil: flux {o.shape} and flux_error {e.shape} differ in shape")
    if th.shape[0] != o.shape[0] or g.shape != (o.shape[0],):
        raise ValueError(f"veil: {o.shape[0]} spectra but {th.shape[0]} parameter rows and {g.shape} G magnitudes")
    if not (np.all(np.isfinite(o)) and np.all(np.isfinite(e)) and np.all(e > 0)):
        raise ValueError("veil: flux must be finite and flux_error finite and > 0")
    if not np.all(np.isfinite(g)):
        raise ValueError("veil: G magnitudes must be finite")
    if np.any(o.mean(axis=1) <= 0):
        raise ValueError(f"veil: spectrum {int(np.argmax(o.mean(axis=1) <= 0))} has a non-positive mean flux")
    return o, e, g, th


def veil(flux, flux_error, g_mag, theta, model: ForwardModel, noise: NoiseModel,
         rng: np.random.Generator | None) -> VeiledSpectra:
    """Veil real spectra ``flux`` (N, 343) with errors ``flux_error`` at G ``g_mag`` (N,).

    ``theta`` (N, 7): the star's own Teff, log g, [M/H] (its reference labels), the injected
    log Mdot, ff and mass, and the star's A0 (fitted to its spectrum): the photosphere scale is
    taken at these, the accretion flux is the forward model's at these. ``rng``: draws the
    added flux's noise; ``None`` adds the flux noiselessly (its variance is still reported).
    """
    o, e, g, th = check_veiling_inputs(flux, flux_error, g_mag, theta)
    comp = model.components(th)
    ff = th[:, params.INDEX["ff"]][:, None]
    scale = photosphere_scale(o, e, comp["photosphere"] * comp["attenuation"])
    added = scale[:, None] * ff * comp["accretion"] * comp["attenuation"]
    kept = (1.0 - ff) * o
    veiled = kept + added
    mean = o.mean(axis=1, keepdims=True)  # the unveiled star's units, in which its G holds
    var_after = np.asarray(noise.sigma(veiled / mean, g), dtype=float) ** 2
    var_before = np.asarray(noise.sigma(kept / mean, g), dtype=float) ** 2
    added_var = np.maximum(var_after - var_before, 0.0) * mean**2
    if rng is not None:
        veiled = veiled + np.sqrt(added_var) * rng.standard_normal(veiled.shape)
    err = np.sqrt(((1.0 - ff) * e) ** 2 + added_var)
    return VeiledSpectra(flux=veiled, flux_error=err, added_flux=added, added_variance=added_var, scale=scale,
                         theta=th)
