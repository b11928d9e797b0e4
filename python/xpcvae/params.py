"""The parameter space: the seven stellar and accretion parameters, their units and
prior bounds (docs/science.md, section 1, from the ML4ASTRO2 talk).

The single definition used by the forward model, the grid files, the networks, the model
bundle and (through the bundle's manifest) the Java side. Parameters travel as float arrays
of shape ``(..., 7)`` in the order and units of :data:`PARAMETERS`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np


class ParameterError(ValueError):
    """A parameter vector is malformed or lies outside the prior support."""


@dataclass(frozen=True)
class Parameter:
    """One physical parameter with its prior support ``[low, high]``."""

    name: str
    symbol: str
    unit: str
    low: float
    high: float
    description: str


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("teff", "Teff", "K", 3000.0, 7000.0, "effective temperature"),
    Parameter("logg", "log g", "dex", 2.5, 5.0, "surface gravity, log10 of g in cm s^-2"),
    Parameter("mh", "[M/H]", "dex", -0.5, 1.0, "metallicity"),
    Parameter("log_mdot", "log Mdot", "dex(Msun/yr)", -11.0, -4.52, "log10 mass accretion rate in Msun/yr"),
    Parameter("ff", "ff", "", 0.0, 0.3, "filling factor of the accretion columns on the stellar surface"),
    Parameter("mass", "M", "Msun", 0.25, 1.3, "stellar mass"),
    Parameter("a0", "A0", "mag", 0.0, 10.0, "extinction at 541.4 nm (Gaia DR3 convention)"),
)

NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)
NDIM = len(PARAMETERS)
LOW = np.array([p.low for p in PARAMETERS])
HIGH = np.array([p.high for p in PARAMETERS])
INDEX = {p.name: i for i, p in enumerate(PARAMETERS)}


def validate(theta, *, what: str = "parameters") -> np.ndarray:
    """Return ``theta`` as a float array of shape (N, 7), or raise :class:`ParameterError`.

    Nothing is clipped: a value outside the prior support is an error that names the
    parameter, the offending value and the row.
    """
    arr = np.asarray(theta, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != NDIM:
        raise ParameterError(
            f"{what}: expected shape (N, {NDIM}) in the order {', '.join(NAMES)}; got shape {np.shape(theta)}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ParameterError(f"{what}: {NAMES[col]} is not finite ({arr[row, col]}) in row {row}")
    for j, p in enumerate(PARAMETERS):
        out = (arr[:, j] < p.low) | (arr[:, j] > p.high)
        if out.any():
            row = int(np.argmax(out))
            raise ParameterError(
                f"{what}: {p.name} = {arr[row, j]:g} {p.unit} in row {row} is outside the prior support "
                f"[{p.low:g}, {p.high:g}]"
            )
    return arr


def to_unit(theta) -> np.ndarray:
    """Map physical parameters to the unit box [0, 1]^7 (the networks' units)."""
    return (np.asarray(theta, dtype=float) - LOW) / (HIGH - LOW)


def from_unit(u) -> np.ndarray:
    """Inverse of :func:`to_unit`."""
    return LOW + (HIGH - LOW) * np.asarray(u, dtype=float)


def as_dicts() -> list[dict]:
    """The parameter space as JSON-ready dictionaries (used in manifests and grid attributes)."""
    return [asdict(p) for p in PARAMETERS]


def to_json() -> str:
    return json.dumps(as_dicts(), indent=2)


def check_matches(dicts: list[dict], *, what: str) -> None:
    """Raise :class:`ParameterError` unless ``dicts`` describes exactly this parameter space."""
    names = [d.get("name") for d in dicts]
    if names != list(NAMES):
        raise ParameterError(f"{what}: parameters {names} do not match this package's {list(NAMES)}")
    for d, p in zip(dicts, PARAMETERS):
        if not (np.isclose(d["low"], p.low) and np.isclose(d["high"], p.high)):
            raise ParameterError(
                f"{what}: bounds of {p.name} are [{d['low']}, {d['high']}], expected [{p.low}, {p.high}]"
            )
