"""Where the loss on real data comes from: the same stars with simulated spectra and/or flux errors.

Comparing the network's errors on these variants separates its own limits, the effect of
the flux-error *input*, and the mismatch of the spectra themselves.
"""

from __future__ import annotations

import numpy as np

from xpcvae import params
from xpcvae.simulate.noise import NoiseModel
from xpcvae.validation.metrics import robust_stats
from xpcvae.validation.posteriors import RealResults, run_posteriors
from xpcvae.data.realstars import RealStars

#: the diagnostic variants of the real spectra (name -> description), see :func:`diagnostic_variants`
VARIANTS = {
    "real": "real spectra with their archive flux errors",
    "real_noise_model_errors": "real spectra, flux errors replaced by the training noise model's at the star's G",
    "twin_real_errors": "simulated twins (forward model at the labels, A0 fitted) + noise from the real errors",
    "twin_noise_model": "simulated twins with the training noise model's errors (like the training set)",
}


def error_leak_test(bundle, res: RealResults, n_samples: int = 300, seed: int = 7, progress: bool = False) -> dict:
    """Does the network read the parameters from the flux-error input? The noise-free twins are given
    the noise model's errors of *another* star's twin (a fixed random permutation, same G); the
    posterior medians are regressed on the star's own and the donor's APOGEE labels. A network that
    treats the errors as uncertainties only gives a donor weight near 0."""
    if res.model_fit is None:
        raise ValueError("the leak test needs the forward model at the labels (run_posteriors keep_residuals)")
    st = res.stars
    twin = res.model_fit / res.model_fit.mean(axis=1, keepdims=True)
    perm = np.random.default_rng(seed).permutation(len(st))
    v = st.subset(np.arange(len(st)))
    v.flux = twin
    v.flux_error = np.asarray(NoiseModel.default().sigma(twin[perm], st.g_mag), dtype=float)
    v.a0_ref = res.a0_fit.copy()
    r = run_posteriors(bundle, v, n_samples=n_samples, seed=seed, progress=progress, keep_residuals=False)
    out = {}
    for name in ("teff", "logg", "mh"):
        own = st.reference(name)
        design = np.vstack([own, own[perm], np.ones(len(st))]).T
        coef = np.linalg.lstsq(design, r.q["median"][:, params.INDEX[name]], rcond=None)[0]
        out[name] = {"own_weight": float(coef[0]), "donor_weight": float(coef[1]),
                     "scatter": robust_stats(r.q["median"][:, params.INDEX[name]] - own)["scatter"]}
    return out


def diagnostic_variants(res: RealResults, seed: int = 7) -> dict[str, RealStars]:
    """The same stars with the spectrum and/or its flux errors swapped for simulated ones.

    - ``real_noise_model_errors``: the real (mean-normalised) spectrum, with the flux errors
      the training noise model (:meth:`xpcvae.simulate.noise.NoiseModel.sigma`) gives at the star's G;
    - ``twin_real_errors``: the forward model at the star's APOGEE Teff, log g, [M/H] with the
      best-fit A0 and no accretion, plus Gaussian noise drawn from the star's real flux errors;
    - ``twin_noise_model``: that model spectrum with noise and errors from the noise model, i.e.
      a spectrum like the training set's.

    The twins' A0 reference is the A0 they were simulated with.
    """
    if res.model_fit is None:
        raise ValueError("diagnostic variants need the forward model at the labels (run_posteriors keep_residuals)")
    st = res.stars
    rng = np.random.default_rng(seed)
    nm = NoiseModel.default()
    obs = st.flux / st.flux.mean(axis=1, keepdims=True)
    twin = res.model_fit / res.model_fit.mean(axis=1, keepdims=True)
    err_real = st.flux_error / st.flux.mean(axis=1, keepdims=True)
    sig_obs = np.asarray(nm.sigma(obs, st.g_mag), dtype=float)
    sig_twin = np.asarray(nm.sigma(twin, st.g_mag), dtype=float)
    out = {}
    for name, flux, err, noise, a0 in (
            ("real_noise_model_errors", obs, sig_obs, None, st.a0_ref),
            ("twin_real_errors", twin, err_real, err_real, res.a0_fit),
            ("twin_noise_model", twin, sig_twin, sig_twin, res.a0_fit)):
        v = st.subset(np.arange(len(st)))
        v.flux = flux + (0.0 if noise is None else noise * rng.standard_normal(flux.shape))
        v.flux_error = err
        v.a0_ref = np.asarray(a0, dtype=float).copy()
        out[name] = v
    return out


def error_input_mismatch(stars: RealStars) -> dict:
    """How the real flux errors differ from the training noise model's at the same G: per star the
    median ratio real/model (a scale) and the rms of the log ratio about it (a shape), percentiles."""
    obs = stars.flux / stars.flux.mean(axis=1, keepdims=True)
    err = stars.flux_error / stars.flux.mean(axis=1, keepdims=True)
    sig = np.asarray(NoiseModel.default().sigma(obs, stars.g_mag), dtype=float)
    lr = np.log(err / sig)
    scale = np.exp(np.median(lr, axis=1))
    shape = np.sqrt(np.mean((lr - np.log(scale)[:, None]) ** 2, axis=1))
    p = [5, 25, 50, 75, 95]
    return {"scale_percentiles": dict(zip(map(str, p), np.percentile(scale, p).tolist())),
            "shape_rms_log_percentiles": dict(zip(map(str, p), np.percentile(shape, p).tolist()))}
