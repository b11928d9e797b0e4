"""Batch inference over a spectra file with the Python reference sampler.

One output row per input row, in order; a bad row becomes an error row naming the
problem and the batch goes on. A row's random stream is its 0-based data row number,
exactly as in the Java CLI, so both engines write the same numbers.

Inputs are read by :func:`xpcvae.data.gaia_xp.load_spectra`: Gaia archive XP continuous
(CSV/ECSV/FITS, calibrated onto the model grid with GaiaXPy), XP sampled spectra on
GaiaXPy's default grid, or the project CSV layout.

The summary (docs/formats.md) carries, after the columns the Java CLI also writes,
a goodness-of-fit figure and an out-of-distribution flag per row
(:data:`EXTRA_COLUMNS`):

``gof_chi2``
    reduced chi^2 of the forward model at the posterior median against the observed
    spectrum (its values rounded to float32, as the networks and the Java engine see
    them). Both are normalised to mean flux 1 (the uncertainties with the
    observed spectrum's factor); the model is scaled by the weighted least-squares
    factor; the variance per sample is ``flux_error^2 + (GOF_SYSTEMATIC * model)^2``
    -- the observational noise plus a fractional floor for what the forward model
    itself cannot reproduce in real spectra (calibration, label errors, the
    emulator's accuracy); the sum runs over all 343 samples and is divided by
    342 degrees of freedom. The forward model is :class:`xpcvae.forward.ForwardModel`
    with the photosphere (and extinction curve, r_in) the bundle's grid was built with,
    read from its manifest's ``provenance.grid_attrs`` (:func:`forward_config`);
    the empirical photosphere when the manifest does not say.
``ood_flag``
    1 when ``gof_chi2 > GOF_THRESHOLD``: the model at the posterior median does not
    describe the spectrum, so the spectrum lies outside what the model was trained on
    (another kind of object, a broken or contaminated spectrum, a parameter outside
    the box) and the posterior is not to be trusted; 0 otherwise.
``ood_reason``
    why the row is flagged (empty when ``ood_flag`` is 0).
``at_bound``
    the parameters whose posterior median lies in the outer 1 % of the prior box
    (``;``-separated names, e.g. ``ff`` for a star without accretion). Informational,
    not a flag: a median at a bound is legitimate (no accretion, no extinction), but
    it also marks a star whose truth may lie outside the box.

The floor, the threshold, the degrees of freedom and the bound fraction are read from the
bundle's manifest (``goodness_of_fit``, written by the export with the values below, so that
the Java CLI, which computes the same four columns with the bundle's ``forward_model`` graph,
uses the same constants); the module constants are the defaults for a bundle without them.

The floor and the threshold are properties of the forward model on real spectra,
not of the network, measured on real in-box APOGEE stars (``xpcvae validate-real``,
docs/validation/README.md): with the 1 % floor, the forward model at the stars'
APOGEE Teff, log g, [M/H] (A0 fitted, no accretion) gives a median ``gof_chi2`` of
1.0 and a 99th percentile of about 21; :data:`GOF_THRESHOLD` = 25 therefore flags a
posterior median that describes the spectrum worse than the true parameters
describe 99 % of real stars.
"""

from __future__ import annotations

import csv
import functools
import json
import sys

import numpy as np

from xpcvae.atomic import atomic_path
from xpcvae.infer.sampler import InvalidSpectrumError, PosteriorSampler, percentiles
from xpcvae.data.spectra_csv import summary_header, summary_row, write_samples_csv

#: columns appended to the summary by the Python engine (after the Java CLI's columns)
EXTRA_COLUMNS = ["gof_chi2", "ood_flag", "ood_reason", "at_bound"]
#: fractional model-error floor added in quadrature to the flux uncertainties in gof_chi2
#: (median gof_chi2 = 1.0 for the forward model at the APOGEE labels of real stars)
GOF_SYSTEMATIC = 0.01
#: gof_chi2 above this flags the row as out of distribution (~ the 99th percentile of the
#: forward model at the true labels of real stars, see the module docstring)
GOF_THRESHOLD = 25.0
#: a posterior median within this fraction of the box width of a bound is reported in at_bound
BOUND_FRACTION = 0.01


def gof_settings(bundle) -> dict:
    """``systematic``, ``threshold``, ``dof`` and ``bound_fraction`` of the goodness of fit: the
    manifest's ``goodness_of_fit`` where given, else :data:`GOF_SYSTEMATIC`, :data:`GOF_THRESHOLD`,
    343 - 1 and :data:`BOUND_FRACTION`."""
    n_wave = len(bundle.manifest.get("wavelength_nm") or range(343))
    out = {"systematic": GOF_SYSTEMATIC, "threshold": GOF_THRESHOLD, "dof": n_wave - 1,
           "bound_fraction": BOUND_FRACTION}
    given = bundle.manifest.get("goodness_of_fit") or {}
    for key in out:
        if isinstance(given.get(key), (int, float)) and not isinstance(given.get(key), bool):
            out[key] = int(given[key]) if key == "dof" else float(given[key])
    return out


def forward_config(bundle) -> dict:
    """The forward-model settings of the grid the bundle was trained on, from its manifest's
    ``provenance.grid_attrs`` (a ``photosphere`` spec string or a ``ForwardModel.describe()``
    dictionary, directly or under ``forward_model``); defaults: empirical photosphere, F99,
    R_V = 3.1, r_in = 5."""
    prov = bundle.manifest.get("provenance") or {}
    attrs = prov.get("grid_attrs") or {}
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs)
        except ValueError:
            attrs = {}
    cfg = {"photosphere": "empirical", "extinction_curve": "F99", "rv": 3.1, "r_in": 5.0}
    for src in (attrs, attrs.get("forward_model") if isinstance(attrs, dict) else None):
        if isinstance(src, str):
            try:
                src = json.loads(src)
            except ValueError:
                continue
        if not isinstance(src, dict):
            continue
        ph = src.get("photosphere_spec", src.get("photosphere"))
        if isinstance(ph, dict):
            ph = ph.get("spec", ph.get("name"))
        if isinstance(ph, str) and ph:
            cfg["photosphere"] = ph
        ext = src.get("extinction")
        if isinstance(ext, dict):
            cfg["extinction_curve"] = str(ext.get("curve", cfg["extinction_curve"]))
            cfg["rv"] = float(ext.get("rv", cfg["rv"]))
        if isinstance(src.get("extinction_curve"), str):
            cfg["extinction_curve"] = src["extinction_curve"]
        for key in ("extinction_rv", "rv"):
            if isinstance(src.get(key), (int, float)):
                cfg["rv"] = float(src[key])
        r_in = src.get("r_in_stellar_radii", src.get("r_in"))
        if isinstance(r_in, (int, float)):
            cfg["r_in"] = float(r_in)
    return cfg


def bundle_photosphere(bundle) -> str:
    """The photosphere of the grid the bundle was trained on (manifest provenance), default ``empirical``."""
    return forward_config(bundle)["photosphere"]


@functools.lru_cache(maxsize=4)
def _forward_model(photosphere: str, extinction_curve: str = "F99", rv: float = 3.1, r_in: float = 5.0):
    from xpcvae.forward import ForwardModel

    return ForwardModel(photosphere=photosphere, extinction_curve=extinction_curve, r_in=r_in, rv=rv)


def model_spectra(theta, config: dict | str = "empirical", wavelength=None) -> np.ndarray:
    """Forward-model spectra (N, 343), normalised to mean 1, at parameters ``theta`` (N, 7).

    ``config``: a :func:`forward_config` dictionary or a photosphere spec string.
    """
    from xpcvae.forward import WAVELENGTH

    if wavelength is not None and not np.allclose(np.asarray(wavelength, dtype=float), WAVELENGTH, atol=1e-6):
        raise ValueError("the bundle's wavelength grid differs from the forward model's")
    cfg = {"photosphere": config} if isinstance(config, str) else dict(config)
    fm = _forward_model(str(cfg["photosphere"]), str(cfg.get("extinction_curve", "F99")),
                        float(cfg.get("rv", 3.1)), float(cfg.get("r_in", 5.0)))
    flux, _ = fm.spectra(np.atleast_2d(np.asarray(theta, dtype=float)))
    return np.asarray(flux, dtype=float)


def reduced_chi2(flux, flux_error, model, systematic: float = GOF_SYSTEMATIC, dof: int | None = None) -> np.ndarray:
    """Reduced chi^2 (N,) of ``model`` (N, W) against observed ``flux`` with ``flux_error``.

    The observed spectrum and its errors are divided by the observed mean flux, the
    model by its own mean; the model is then scaled by the weighted least-squares
    factor, so only the shape is compared. Variance: ``err^2 + (systematic * model)^2``.
    Degrees of freedom: ``dof``, default W - 1.
    """
    f = np.atleast_2d(np.asarray(flux, dtype=float))
    e = np.atleast_2d(np.asarray(flux_error, dtype=float))
    m = np.atleast_2d(np.asarray(model, dtype=float))
    mean = f.mean(axis=1, keepdims=True)
    o, s = f / mean, e / mean
    m = m / m.mean(axis=1, keepdims=True)
    var = s**2 + (systematic * m) ** 2
    scale = (o * m / var).sum(axis=1, keepdims=True) / (m * m / var).sum(axis=1, keepdims=True)
    return ((o - scale * m) ** 2 / var).sum(axis=1) / (f.shape[1] - 1 if dof is None else dof)


def at_bound(median, low, high, fraction: float = BOUND_FRACTION, names=None) -> str:
    """``;``-separated names of the parameters whose median lies within ``fraction`` of the box of a bound."""
    from xpcvae import params

    names = names or params.NAMES
    med = np.asarray(median, dtype=float)
    width = np.asarray(high) - np.asarray(low)
    near = (med - low <= fraction * width) | (high - med <= fraction * width)
    return ";".join(n for n, b in zip(names, near) if b)


def ood_columns(chi2: float | None, median, low, high, threshold: float = GOF_THRESHOLD,
                fraction: float = BOUND_FRACTION) -> list[str]:
    """The :data:`EXTRA_COLUMNS` values of one ok row (``chi2`` None: forward model unavailable)."""
    bound = at_bound(median, low, high, fraction)
    if chi2 is None or not np.isfinite(chi2):
        return ["", "", "goodness of fit not computed (forward model unavailable)", bound]
    flag = chi2 > threshold
    reason = f"gof_chi2 {chi2:.3g} > {threshold:g}: the model does not fit this spectrum" if flag else ""
    return [repr(float(chi2)), "1" if flag else "0", reason, bound]


def goodness_of_fit(bundle, medians, fluxes, errors) -> np.ndarray | None:
    """gof_chi2 (N,) of the forward model at ``medians`` (N, 7); None if the forward model cannot be built."""
    if len(medians) == 0:
        return np.zeros(0)
    try:
        model = model_spectra(np.asarray(medians), forward_config(bundle), bundle.wavelength)
    except (ImportError, OSError, ValueError, FloatingPointError) as exc:
        print(f"warning: goodness of fit not computed: {exc}", file=sys.stderr)
        return None
    gof = gof_settings(bundle)
    return reduced_chi2(np.asarray(fluxes), np.asarray(errors), model, gof["systematic"], gof["dof"])


def write_summary(path, rows: list[list[str]]) -> None:
    """The summary CSV: the Java CLI's columns (docs/formats.md) followed by :data:`EXTRA_COLUMNS`."""
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(summary_header() + EXTRA_COLUMNS)
        w.writerows(rows)


def infer_rows(sampler: PosteriorSampler, rows, n_samples: int = 1000, seed: int = 42, progress: bool = True,
               keep_draws: bool = False):
    """Sample every row; return (summary rows, [(source_id, draws)] if keep_draws, n_failed).

    The summary rows carry :data:`EXTRA_COLUMNS` at the end.
    """
    from tqdm.auto import tqdm

    bundle = sampler.bundle
    out_rows: list[list[str] | None] = [None] * len(rows)
    sample_items, ok_index, medians, fluxes, errors, failed = [], [], [], [], [], 0
    for index, row in enumerate(tqdm(rows, desc="sources", unit="src", disable=not progress)):
        draws = None
        if row.error is None:
            try:
                draws = sampler.sample(row.flux[None], row.flux_error[None], n_samples, seed,
                                       source_indices=[index], source_ids=[row.source_id])[0]
            except InvalidSpectrumError as exc:
                row = type(row)(row.source_id, None, None, str(exc))
        if row.error is not None:
            failed += 1
            msg = row.error if row.error.startswith("source ") else f"source {row.source_id}: {row.error}"
            out_rows[index] = summary_row(row.source_id, None, n_samples, msg) + [""] * len(EXTRA_COLUMNS)
            continue
        q = percentiles(draws)
        out_rows[index] = summary_row(row.source_id, q, n_samples)
        ok_index.append(index)
        medians.append(q["median"])
        # the spectrum as the networks (and the Java engine, whose spectra are float32) see it
        fluxes.append(np.asarray(row.flux, dtype=np.float32).astype(float))
        errors.append(np.asarray(row.flux_error, dtype=np.float32).astype(float))
        if keep_draws:
            sample_items.append((row.source_id, draws))
    chi2 = goodness_of_fit(bundle, medians, fluxes, errors)
    gof = gof_settings(bundle)
    for k, index in enumerate(ok_index):
        out_rows[index] += ood_columns(None if chi2 is None else chi2[k], medians[k], bundle.low, bundle.high,
                                       gof["threshold"], gof["bound_fraction"])
    return out_rows, sample_items, failed


def infer_csv(bundle, input_path, out_path, n_samples: int = 1000, seed: int = 42,
              samples_out=None, progress: bool = True) -> tuple[int, int]:
    """Run the posterior sampler on every spectrum of ``input_path``; return (n_ok, n_failed).

    ``input_path``: any input :func:`xpcvae.data.gaia_xp.load_spectra` reads (Gaia archive
    XP continuous or sampled CSV/ECSV/FITS, or the project CSV).
    """
    from xpcvae.data.gaia_xp import load_spectra

    with PosteriorSampler(bundle) as sampler:
        rows = load_spectra(input_path, wavelength=sampler.bundle.wavelength)
        out_rows, sample_items, failed = infer_rows(sampler, rows, n_samples, seed, progress,
                                                    keep_draws=samples_out is not None)
    write_summary(out_path, out_rows)
    if samples_out is not None:
        write_samples_csv(samples_out, sample_items)
    return len(rows) - failed, failed


#: the same function under a name that does not suggest CSV only
infer_file = infer_csv
