"""The Python API for notebooks and scripts: :func:`infer`, posterior summaries as an astropy Table.

``from xpcvae import infer`` gives it (README, "Python usage"). It runs the Python engine exactly as
``xpcvae infer --engine python`` does (the same rows, random streams and goodness of fit: the
numbers of the summary CSV) and returns them typed, with the units of the bundle's manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xpcvae import javadist
from xpcvae.bundle import BundleError, ModelBundle
from xpcvae.data.gaia_xp import load_spectra
from xpcvae.data.spectra_csv import SpectrumRow
from xpcvae.infer.batch import bundle_forward_config, infer_rows
from xpcvae.infer.sampler import PosteriorSampler
from xpcvae.infer.table import draws_table, summary_table

#: the bundle :func:`infer` uses unless told otherwise (relative to the current directory, else to
#: the checkout this package was imported from)
DEFAULT_BUNDLE = "export/default"


def resolve_bundle(bundle) -> ModelBundle:
    """A loaded :class:`ModelBundle` from a bundle or a directory; a relative directory that does not
    exist here is also looked for in the checkout this package was imported from."""
    if isinstance(bundle, ModelBundle):
        return bundle
    path = Path(bundle)
    if not path.exists() and not path.is_absolute() and (javadist.CHECKOUT / path).is_dir():
        path = javadist.CHECKOUT / path
    return ModelBundle.load(path)


def _array_rows(arrays, n_wave: int) -> list[SpectrumRow]:
    """``(flux, flux_error[, source_ids])``: one row per spectrum (a 1-D pair is one spectrum); a row whose
    values are not numbers or whose lengths differ from the model grid becomes an error row."""
    if len(arrays) not in (2, 3):
        raise ValueError(f"infer: expected (flux, flux_error) or (flux, flux_error, source_ids), got "
                         f"{len(arrays)} items")
    flux, error = arrays[0], arrays[1]
    if len(flux) and np.isscalar(flux[0]):  # one spectrum
        flux, error = [flux], [error]
    if len(flux) != len(error):
        raise ValueError(f"infer: {len(flux)} flux rows but {len(error)} flux_error rows")
    ids = [str(i) for i in range(len(flux))] if len(arrays) == 2 else [str(s) for s in arrays[2]]
    if len(ids) != len(flux):
        raise ValueError(f"infer: {len(flux)} spectra but {len(ids)} source ids")
    rows = []
    for sid, f, e in zip(ids, flux, error):
        try:
            f, e = np.asarray(f, dtype=np.float64), np.asarray(e, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            rows.append(SpectrumRow(sid, None, None, f"source {sid}: flux and flux_error must be numbers ({exc})"))
            continue
        if f.shape != (n_wave,) or e.shape != (n_wave,):
            rows.append(SpectrumRow(sid, None, None, f"source {sid}: flux has {f.size} and flux_error {e.size} "
                                                     f"samples, the model grid {n_wave}"))
            continue
        rows.append(SpectrumRow(sid, f, e))
    return rows


def spectrum_rows(spectra, wavelength) -> list[SpectrumRow]:
    """The rows of any input :func:`infer` takes, one per spectrum, in order."""
    if isinstance(spectra, (tuple, list)):
        return _array_rows(spectra, len(wavelength))
    if isinstance(spectra, (str, Path)) or type(spectra).__name__ in ("Table", "QTable", "DataFrame"):
        return load_spectra(spectra, wavelength=wavelength)
    raise TypeError(f"infer: expected (flux, flux_error[, source_ids]) arrays, an astropy Table, a pandas "
                    f"DataFrame or a path, got {type(spectra).__name__}")


def infer(spectra, bundle=DEFAULT_BUNDLE, samples: int = 1000, seed: int = 42, *, return_samples: bool = False,
          threads: int = 1, progress: bool = False):
    """Posterior summaries of XP spectra: an astropy Table with one row per input spectrum, in order.

    ``spectra``: a tuple ``(flux, flux_error)`` or ``(flux, flux_error, source_ids)`` of arrays
    (N, 343) or sequences of spectra (one 1-D pair is one spectrum; source ids default to "0",
    "1", ...); an astropy Table or pandas DataFrame with the project CSV's columns (``source_id``,
    ``flux_0``..., ``flux_error_0``...) or ``flux``/``flux_error`` array columns (Gaia XP sampled)
    or Gaia XP continuous columns; or a path to anything :func:`xpcvae.data.gaia_xp.load_spectra`
    reads. ``bundle``: a model bundle directory or :class:`~xpcvae.bundle.ModelBundle`.
    ``samples`` draws per spectrum, random numbers from ``seed`` and each spectrum's row number,
    as in ``xpcvae infer``. ``threads``: ONNX Runtime threads; ``progress``: a progress bar.

    Columns: ``source_id``, ``status`` (ok/error), ``message``, ``n_samples``, per parameter
    ``<name>_median``, ``_p16``, ``_p84``, ``_p2.5``, ``_p97.5`` with the manifest's unit, then the
    goodness of fit ``gof_chi2``, ``ood_flag``, ``ood_reason``, ``at_bound`` (docs/formats.md).
    A spectrum that cannot be used (NaN flux, wrong length, non-positive uncertainty) is an
    error row whose ``message`` names the problem; the others are unaffected.

    ``return_samples``: also return a dict source_id -> astropy Table of that source's draws
    (a column per parameter, with units; error rows have none). Source ids must then be unique.
    """
    b = resolve_bundle(bundle)
    bundle_forward_config(b)  # a malformed forward config fails before any sampling
    rows = spectrum_rows(spectra, b.wavelength)
    if return_samples:
        seen = set()
        for r in rows:
            if r.source_id in seen:
                raise ValueError(f"infer: source id {r.source_id!r} appears more than once: the draws are keyed by "
                                 "source id (return_samples=True), so source ids must be unique")
            seen.add(r.source_id)
    with PosteriorSampler(b, intra_op_threads=threads) as sampler:
        out_rows, items, _ = infer_rows(sampler, rows, samples, seed, progress, keep_draws=return_samples)
    parameters = b.manifest["parameters"]
    table = summary_table(out_rows, parameters, meta={"bundle": str(b.root), "samples": samples, "seed": seed})
    if not return_samples:
        return table
    return table, {sid: draws_table(d, parameters) for sid, d in items}
