"""The goodness of fit of the forward model to an observed spectrum: the only definition.

``gof_chi2``, ``ood_flag``, ``ood_reason`` and ``at_bound`` of the summary CSV (docs/formats.md),
their settings and the defaults the exporter writes into a bundle's manifest. The Java engine
(``org.xpcvae.GoodnessOfFit``) computes the same columns with the settings of the manifest.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from xpcvae import params

#: the columns of the goodness of fit, appended to the summary CSV in this order
COLUMNS = ("gof_chi2", "ood_flag", "ood_reason", "at_bound")
#: their type and description in typed outputs (ECSV, FITS, the Python API's table; the same text as
#: org.xpcvae.GoodnessOfFit.DESCRIPTIONS); all are dimensionless
COLUMN_TYPES = {"gof_chi2": "float64", "ood_flag": "int16", "ood_reason": "str", "at_bound": "str"}
DESCRIPTIONS = {
    "gof_chi2": "reduced chi^2 of the forward model at the posterior median against the spectrum; "
                "empty when not computed (see ood_reason)",
    "ood_flag": "1 when gof_chi2 exceeds the bundle's threshold: the spectrum lies outside what the model "
                "was trained on, do not trust the posterior; 0 otherwise; empty when not computed",
    "ood_reason": "why the row is flagged, or why gof_chi2 was not computed; empty otherwise",
    "at_bound": "parameters whose posterior median lies within bound_fraction of the prior box width of "
                "a bound, separated by ;",
}
#: fractional model-error floor added in quadrature to the flux uncertainties (docs/formats.md:
#: with it the forward model at the APOGEE labels of real stars gives a median gof_chi2 of 1.0)
GOF_SYSTEMATIC = 0.01
#: gof_chi2 above this flags the row as out of distribution (about the 99th percentile of the
#: forward model at the labels of real in-box stars, docs/validation/README.md)
GOF_THRESHOLD = 25.0
#: a posterior median within this fraction of the box width of a bound is named in at_bound
BOUND_FRACTION = 0.01
#: the manifest key of the settings
MANIFEST_KEY = "goodness_of_fit"
#: what the settings mean, written beside them in the manifest
DEFINITION = ("gof_chi2: reduced chi^2 (dof) of the forward model at the posterior median against the "
              "spectrum, both normalised to mean 1, model scaled by its weighted least-squares factor, "
              "variance flux_error^2 + (systematic * model)^2; ood_flag 1 when gof_chi2 > threshold; "
              "at_bound: medians within bound_fraction of the box width of a bound (docs/formats.md)")
#: ood_reason of an ok row whose forward model could not be evaluated
UNAVAILABLE = "goodness of fit not computed (forward model unavailable)"


@dataclass(frozen=True)
class GofSettings:
    """``systematic`` floor, ``threshold`` of ood_flag, degrees of freedom ``dof`` (the spectrum
    length - 1 by default) and ``bound_fraction`` of at_bound."""

    dof: int
    systematic: float = GOF_SYSTEMATIC
    threshold: float = GOF_THRESHOLD
    bound_fraction: float = BOUND_FRACTION

    @classmethod
    def default(cls, n_wave: int) -> "GofSettings":
        """The defaults for spectra of ``n_wave`` samples."""
        return cls(dof=n_wave - 1)

    @classmethod
    def from_manifest(cls, manifest: dict) -> "GofSettings":
        """The manifest's ``goodness_of_fit`` where it gives a key, the defaults elsewhere; raises
        ``ValueError`` naming the key of an invalid value."""
        n_wave = len(manifest["wavelength_nm"])
        out = dataclasses.asdict(cls.default(n_wave))
        given = manifest.get(MANIFEST_KEY)
        if given is None:
            return cls(**out)
        if not isinstance(given, dict):
            raise ValueError(f"{MANIFEST_KEY} is not an object")
        for key in out:
            v = given.get(key)
            if v is None:
                continue
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if key == "dof":
                ok = ok and float(v).is_integer() and 1 <= v <= n_wave
            elif key == "threshold":
                ok = ok and v > 0
            else:
                ok = ok and 0 <= v < 1
            if not ok:
                raise ValueError(f"{MANIFEST_KEY}.{key} = {v!r} is not valid")
            out[key] = int(v) if key == "dof" else float(v)
        return cls(**out)

    def manifest_section(self) -> dict:
        """The manifest's ``goodness_of_fit``: the settings and their :data:`DEFINITION`."""
        return {"systematic": self.systematic, "threshold": self.threshold, "dof": self.dof,
                "bound_fraction": self.bound_fraction, "definition": DEFINITION}


def reduced_chi2(flux, flux_error, model, systematic: float = GOF_SYSTEMATIC, dof: int | None = None) -> np.ndarray:
    """Reduced chi^2 (N,) of ``model`` (N, W) against observed ``flux`` with ``flux_error``.

    The observed spectrum and its errors are divided by the observed mean flux, the model by its
    own mean; the model is then scaled by the weighted least-squares factor, so only the shape is
    compared. Variance: ``err^2 + (systematic * model)^2``. Degrees of freedom: ``dof``, default W - 1.
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
    names = names or params.NAMES
    med = np.asarray(median, dtype=float)
    width = np.asarray(high) - np.asarray(low)
    near = (med - low <= fraction * width) | (high - med <= fraction * width)
    return ";".join(n for n, b in zip(names, near) if b)


def ood_columns(chi2: float | None, median, low, high, threshold: float = GOF_THRESHOLD,
                fraction: float = BOUND_FRACTION) -> list[str]:
    """The :data:`COLUMNS` values of one ok row (``chi2`` None: forward model unavailable)."""
    bound = at_bound(median, low, high, fraction)
    if chi2 is None or not np.isfinite(chi2):
        return ["", "", UNAVAILABLE, bound]
    flag = chi2 > threshold
    reason = f"gof_chi2 {chi2:.3g} > {threshold:g}: the model does not fit this spectrum" if flag else ""
    return [repr(float(chi2)), "1" if flag else "0", reason, bound]
