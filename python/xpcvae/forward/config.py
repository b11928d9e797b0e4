"""The settings of the forward model, one spelling for each.

A :class:`ForwardConfig` is everything needed to rebuild a :class:`~xpcvae.forward.ForwardModel`
exactly. The grid writer stores :meth:`ForwardConfig.to_dict` in the grid's attributes
(``forward_config``) and the exporter in the bundle's manifest (``forward_config``); readers
get it back with :meth:`ForwardConfig.from_grid_attrs` and :meth:`ForwardConfig.from_manifest`,
which also read grids and bundles written before the key existed (docs/grid.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass

from xpcvae.forward.accretion import DEFAULT_SLAB_FRACTION, DEFAULT_SLAB_TEMPERATURE
from xpcvae.forward.instrument import DEFAULT_FWHM_BP, DEFAULT_FWHM_RP

#: the key of the settings in grid attributes and in bundle manifests
KEY = "forward_config"


@dataclass(frozen=True)
class ForwardConfig:
    """Settings of a :class:`~xpcvae.forward.ForwardModel`; field names are its keyword arguments.

    ``photosphere``: ``empirical``, ``empirical:EMULATOR.npz``, ``blackbody`` or
    ``tabulated:PATH``; ``extinction_curve``: the extinction curve; ``r_in``: inner disk radius
    in stellar radii; ``rv``: the curve's R_V; ``slab_temperature`` (K) and
    ``slab_fraction``: the accretion slab; ``fwhm_bp`` / ``fwhm_rp``: LSF widths in
    pseudo-wavelength samples. Values are checked when the model is built.
    """

    photosphere: str = "empirical"
    extinction_curve: str = "F99"
    r_in: float = 5.0
    rv: float = 3.1
    slab_temperature: float = DEFAULT_SLAB_TEMPERATURE
    slab_fraction: float = DEFAULT_SLAB_FRACTION
    fwhm_bp: float = DEFAULT_FWHM_BP
    fwhm_rp: float = DEFAULT_FWHM_RP

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "str":
                if not (isinstance(value, str) and value):
                    raise ValueError(f"forward config: {f.name} must be a non-empty string, got {value!r}")
            else:
                if not _is_number(value) or not math.isfinite(value):
                    raise ValueError(f"forward config: {f.name} must be a finite number, got {value!r}")
                object.__setattr__(self, f.name, float(value))

    def to_dict(self) -> dict:
        """JSON-ready ``{field: value}``, every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d, where: str = KEY) -> "ForwardConfig":
        """The inverse of :meth:`to_dict` (a dict or its JSON text); every field must be given."""
        d = _as_dict(d, where)
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        missing = [n for n in names if n not in d]
        if unknown or missing:
            raise ValueError(f"{where}: " + "; ".join(
                ([f"unknown key(s) {', '.join(unknown)}"] if unknown else [])
                + ([f"missing key(s) {', '.join(missing)}"] if missing else [])))
        try:
            return cls(**d)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    @classmethod
    def from_grid_attrs(cls, attrs, where: str = "grid attributes") -> "ForwardConfig":
        """The settings a grid was made with: its ``forward_config`` attribute, or for an older grid
        the legacy keys (defaults where it records nothing)."""
        attrs = _as_dict(attrs or {}, where)
        if attrs.get(KEY) is not None:
            return cls.from_dict(attrs[KEY], f"{where}: {KEY}")
        return _from_legacy(attrs, where)

    @classmethod
    def from_manifest(cls, manifest: dict) -> "ForwardConfig":
        """The settings of the grid a bundle was trained on: the manifest's ``forward_config``, or for
        an older bundle its ``provenance.grid_attrs``."""
        if manifest.get(KEY) is not None:
            return cls.from_dict(manifest[KEY], f"manifest {KEY}")
        provenance = manifest.get("provenance") or {}
        return cls.from_grid_attrs(provenance.get("grid_attrs"), "manifest provenance.grid_attrs")


def _as_dict(value, where: str) -> dict:
    """A dict, or JSON text of one (grid attributes store dicts as JSON)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(src: dict, key: str, where: str):
    value = src[key]
    if not _is_number(value):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _string(src: dict, key: str, where: str) -> str:
    value = src[key]
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _from_legacy(attrs: dict, where: str) -> ForwardConfig:
    """Grids written before ``forward_config``: the root attributes (``photosphere``,
    ``extinction_curve``, ``extinction_rv``, ``r_in``), then the ``forward_model`` description
    (``ForwardModel.describe()`` of that version), whose values win."""
    out = {}
    sources = [(attrs, where)]
    if attrs.get("forward_model") is not None:
        sources.append((_as_dict(attrs["forward_model"], f"{where}: forward_model"), f"{where}: forward_model"))
    for src, at in sources:
        photosphere = src.get("photosphere_spec", src.get("photosphere"))
        if isinstance(photosphere, dict):
            photosphere = photosphere.get("spec", photosphere.get("name"))
        if photosphere is not None:
            if not (isinstance(photosphere, str) and photosphere):
                raise ValueError(f"{at}: photosphere must be a non-empty string, got {photosphere!r}")
            out["photosphere"] = photosphere
        extinction = src.get("extinction")
        if isinstance(extinction, dict):
            if "curve" in extinction:
                out["extinction_curve"] = _string(extinction, "curve", f"{at}: extinction")
            if "rv" in extinction:
                out["rv"] = _number(extinction, "rv", f"{at}: extinction")
        if "extinction_curve" in src:
            out["extinction_curve"] = _string(src, "extinction_curve", at)
        for key in ("extinction_rv", "rv"):
            if key in src:
                out["rv"] = _number(src, key, at)
        for key in ("r_in", "r_in_stellar_radii"):
            if key in src:
                out["r_in"] = _number(src, key, at)
        accretion = src.get("accretion")
        if isinstance(accretion, dict):
            for key, field in (("slab_temperature_K", "slab_temperature"), ("slab_fraction_thin", "slab_fraction")):
                if key in accretion:
                    out[field] = _number(accretion, key, f"{at}: accretion")
        instrument = src.get("instrument")
        if isinstance(instrument, dict):
            for key, field in (("fwhm_bp_samples", "fwhm_bp"), ("fwhm_rp_samples", "fwhm_rp")):
                if key in instrument:
                    out[field] = _number(instrument, key, f"{at}: instrument")
    try:
        return ForwardConfig(**out)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
