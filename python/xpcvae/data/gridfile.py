"""HDF5 grids of model spectra: writing, reading and validation (layout: docs/grid.md, section 1).

Files are written atomically (:mod:`xpcvae.atomic`); :func:`read_grid` validates the layout
and raises :class:`GridError` naming the problem, so a grid made elsewhere can be used safely.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from xpcvae import __version__, params
from xpcvae.atomic import atomic_path, make_readable
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.provenance import git_revision

FORMAT = "xpcvae-grid"
FORMAT_VERSION = 1
CHUNK_ROWS = 1024
REQUIRED = ("parameters", "wavelength", "flux", "norm")


class GridError(ValueError):
    """A grid file is missing, unreadable or does not follow the layout."""


@dataclass
class Grid:
    parameters: np.ndarray  # (N, 7) float64
    wavelength: np.ndarray  # (343,) float64
    flux: np.ndarray  # (N, 343) float32
    norm: np.ndarray  # (N,) float64
    attrs: dict = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return self.parameters.shape[0]


def _attr_value(v):
    """HDF5-storable attribute value (dicts/lists of mixed types as JSON)."""
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v)
    if v is None:
        return "none"
    return v


def _check_arrays(parameters, wavelength, flux, norm):
    try:
        parameters = params.validate(parameters, what="grid parameters")
    except params.ParameterError as exc:
        raise GridError(str(exc)) from exc
    wavelength = np.asarray(wavelength, dtype=np.float64)
    flux = np.asarray(flux)
    norm = np.asarray(norm, dtype=np.float64)
    n = parameters.shape[0]
    if wavelength.shape != WAVELENGTH.shape or not np.allclose(wavelength, WAVELENGTH, rtol=0, atol=1e-6):
        raise GridError(f"wavelength must be GaiaXPy's 343-point grid 336..1020 nm in 2 nm steps; "
                        f"got shape {wavelength.shape}")
    if flux.shape != (n, WAVELENGTH.size):
        raise GridError(f"flux must have shape ({n}, {WAVELENGTH.size}) to match {n} parameter rows; got {flux.shape}")
    if norm.shape != (n,):
        raise GridError(f"norm must have shape ({n},); got {norm.shape}")
    return parameters, wavelength, flux, norm


def write_grid(path, parameters, wavelength, flux, norm, attrs=None) -> Path:
    """Write a grid atomically (a temporary file beside ``path``, renamed when complete).

    Validates shapes, bounds and finiteness first (:class:`GridError`). ``attrs`` are
    stored as root attributes (dicts and lists as JSON); ``format``, ``format_version``,
    ``n_spectra``, ``created``, ``package_version`` and ``git_revision`` are added when absent.
    """
    parameters, wavelength, flux, norm = _check_arrays(parameters, wavelength, flux, norm)
    if not np.all(np.isfinite(flux)):
        row = int(np.argmax(~np.all(np.isfinite(flux), axis=1)))
        raise GridError(f"flux has non-finite values (first in row {row})")
    if not np.all(np.isfinite(norm)) or np.any(norm <= 0):
        raise GridError("norm must be finite and > 0")
    n = parameters.shape[0]
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_spectra": n,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
        "git_revision": git_revision(),
    }
    meta.update(dict(attrs or {}))
    meta["n_spectra"] = n
    path = Path(path)
    with atomic_path(path, suffix=".h5.partial") as tmp:
        with h5py.File(tmp, "w") as h5:
            for k, v in meta.items():
                h5.attrs[k] = _attr_value(v)
            dp = h5.create_dataset("parameters", data=parameters)
            dp.attrs["names"] = json.dumps(list(params.NAMES))
            dp.attrs["symbols"] = json.dumps([p.symbol for p in params.PARAMETERS])
            dp.attrs["units"] = json.dumps([p.unit for p in params.PARAMETERS])
            dp.attrs["parameter_space"] = params.to_json()
            dw = h5.create_dataset("wavelength", data=wavelength)
            dw.attrs["unit"] = "nm"
            chunks = (max(1, min(CHUNK_ROWS, n)), WAVELENGTH.size) if n else None
            df = h5.create_dataset("flux", data=flux.astype(np.float32), chunks=chunks,
                                   compression="gzip" if n else None, compression_opts=4 if n else None,
                                   shuffle=bool(n))
            df.attrs["description"] = "noiseless model spectra normalised to mean 1 over the 343 samples"
            dn = h5.create_dataset("norm", data=norm)
            dn.attrs["unit"] = "W m-2 nm-1"
            dn.attrs["description"] = "mean over the 343 samples of the extinguished surface flux density"
        make_readable(tmp)
    return path


def _decode(v):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, np.ndarray):
        return [_decode(x) for x in v.tolist()]
    return v


def read_grid(path) -> Grid:
    """Read and validate a grid (everything into memory; flux as float32).

    Raises :class:`GridError` (a ``ValueError``) naming the problem: missing or
    unreadable file, missing dataset, wrong shapes, a wavelength grid other than
    :data:`xpcvae.forward.WAVELENGTH`, non-finite flux, parameter names that do not
    match :data:`xpcvae.params.NAMES`, parameters outside the prior bounds, non-finite
    or non-positive norm. Spectra whose mean differs from 1 by more than 1e-3
    (e.g. a grid made elsewhere) are renormalised, the factor folded into ``norm``
    and ``attrs["renormalised_on_read"]`` set.
    """
    path = Path(path)
    where = f"grid {path}"
    if not path.exists():
        raise GridError(f"{where}: file does not exist")
    if not path.is_file():
        raise GridError(f"{where}: not a regular file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise GridError(f"{where}: not a readable HDF5 file ({exc})") from exc
    with h5:
        for key in REQUIRED:
            if key not in h5:
                raise GridError(f"{where}: missing dataset '/{key}'")
            if not isinstance(h5[key], h5py.Dataset):
                raise GridError(f"{where}: '/{key}' is not a dataset")
        attrs = {k: _decode(v) for k, v in h5.attrs.items()}
        dp = h5["parameters"]
        names = _decode(dp.attrs.get("names")) if "names" in dp.attrs else None
        if names is None:
            raise GridError(f"{where}: /parameters has no 'names' attribute (expected {list(params.NAMES)})")
        if isinstance(names, str):
            names = [names]
        if [str(n) for n in names] != list(params.NAMES):
            raise GridError(f"{where}: parameter names {list(names)} do not match {list(params.NAMES)}")
        if dp.ndim != 2 or dp.shape[1] != params.NDIM:
            raise GridError(f"{where}: /parameters must have shape (N, {params.NDIM}); got {dp.shape}")
        n = dp.shape[0]
        if h5["wavelength"].shape != WAVELENGTH.shape:
            raise GridError(f"{where}: /wavelength must have shape {WAVELENGTH.shape}; got {h5['wavelength'].shape}")
        if h5["flux"].shape != (n, WAVELENGTH.size):
            raise GridError(f"{where}: /flux must have shape ({n}, {WAVELENGTH.size}); got {h5['flux'].shape}")
        if h5["norm"].shape != (n,):
            raise GridError(f"{where}: /norm must have shape ({n},); got {h5['norm'].shape}")
        try:
            parameters = np.asarray(dp[...], dtype=np.float64)
            wavelength = np.asarray(h5["wavelength"][...], dtype=np.float64)
            flux = np.asarray(h5["flux"][...], dtype=np.float32)
            norm = np.asarray(h5["norm"][...], dtype=np.float64)
        except (OSError, TypeError, ValueError) as exc:
            raise GridError(f"{where}: cannot read the datasets ({exc})") from exc
    if not np.allclose(wavelength, WAVELENGTH, rtol=0, atol=1e-6):
        raise GridError(f"{where}: /wavelength differs from GaiaXPy's 343-point grid 336..1020 nm in 2 nm steps")
    try:
        params.validate(parameters, what=where)
    except params.ParameterError as exc:
        raise GridError(str(exc)) from exc
    finite = np.isfinite(flux).all(axis=1)
    if not finite.all():
        raise GridError(f"{where}: /flux has NaN or infinite values in {int((~finite).sum())} spectra "
                        f"(first: row {int(np.argmax(~finite))})")
    if not np.all(np.isfinite(norm)) or np.any(norm <= 0):
        raise GridError(f"{where}: /norm must be finite and > 0")
    mean = flux.mean(axis=1, dtype=np.float64)
    if np.any(mean <= 0):
        raise GridError(f"{where}: spectrum in row {int(np.argmax(mean <= 0))} has a non-positive mean flux")
    if np.any(np.abs(mean - 1.0) > 1e-3):
        flux = (flux / mean[:, None]).astype(np.float32)
        norm = norm * mean
        attrs["renormalised_on_read"] = True
    return Grid(parameters, wavelength, flux, norm, attrs, str(path))


def summary(grid: Grid) -> dict:
    """Summary numbers for ``xpcvae inspect``."""
    flux = grid.flux
    out = {
        "path": grid.path,
        "n_spectra": len(grid),
        "wavelength_nm": [float(grid.wavelength[0]), float(grid.wavelength[-1]), int(grid.wavelength.size)],
        "parameters": {},
        "flux_min": float(flux.min()) if flux.size else None,
        "flux_max": float(flux.max()) if flux.size else None,
        "nan_spectra": int((~np.isfinite(flux).all(axis=1)).sum()),
        "norm_range": [float(grid.norm.min()), float(grid.norm.max())] if grid.norm.size else None,
        "attrs": grid.attrs,
    }
    for j, p in enumerate(params.PARAMETERS):
        col = grid.parameters[:, j]
        out["parameters"][p.name] = {
            "unit": p.unit, "bounds": [p.low, p.high],
            "min": float(col.min()) if col.size else None, "max": float(col.max()) if col.size else None,
            "mean": float(col.mean()) if col.size else None,
        }
    return out
