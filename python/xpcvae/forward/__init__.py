"""The forward model of Gaia XP spectra of accreting young stars (docs/science.md section 2).

Public API: :data:`WAVELENGTH` and :data:`N_WAVE` (GaiaXPy's default sampling),
:class:`ForwardConfig` (the settings), :class:`ForwardModel` (parameters (N, 7) ->
normalised flux (N, N_WAVE) and norm), :func:`model_spectra`, the photospheres, the
components, and :mod:`.gof` (the goodness of fit).

Names are imported from their submodule on first use, so that the bundle loader and the
CSV readers, which need only the wavelength grid or the gof settings, do not load astropy
and the emulator.
"""

from __future__ import annotations

import importlib

_SOURCES = {
    "accretion": ("AccretionShock",),
    "config": ("ForwardConfig",),
    "extinction": ("ExtinctionCurve",),
    "instrument": ("WAVELENGTH", "N_WAVE", "FINE_WAVELENGTH", "XPInstrument", "default_instrument"),
    "model": ("ForwardModel", "cached_model", "model_spectra"),
    "photosphere": ("Photosphere", "EmpiricalPhotosphere", "BlackbodyPhotosphere", "TabulatedPhotosphere",
                    "make_photosphere"),
    "stellar": ("stellar_radius", "accretion_luminosity", "accretion_energy_flux", "spot_temperature",
                "planck_surface_flux"),
}
_MODULE_OF = {name: module for module, names in _SOURCES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
