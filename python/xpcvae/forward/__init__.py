"""The forward model of Gaia XP spectra of accreting young stars (science.md section 2).

Public API:

- :data:`WAVELENGTH` -- the 343 GaiaXPy default sampling wavelengths (nm)
- :class:`ForwardModel` -- parameters (N, 7) -> (normalised flux (N, 343), norm (N,))
- photospheres: :class:`EmpiricalPhotosphere`, :class:`BlackbodyPhotosphere`,
  :class:`TabulatedPhotosphere`, :func:`make_photosphere`
- components: :mod:`.stellar`, :class:`AccretionShock`, :class:`ExtinctionCurve`,
  :class:`XPInstrument`
"""

from xpcvae.forward.accretion import AccretionShock
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import FINE_WAVELENGTH, WAVELENGTH, XPInstrument, default_instrument
from xpcvae.forward.model import ForwardModel
from xpcvae.forward.photosphere import (
    BlackbodyPhotosphere,
    EmpiricalPhotosphere,
    Photosphere,
    TabulatedPhotosphere,
    make_photosphere,
)
from xpcvae.forward.stellar import (
    accretion_energy_flux,
    accretion_luminosity,
    planck_surface_flux,
    spot_temperature,
    stellar_radius,
)

__all__ = [
    "WAVELENGTH", "FINE_WAVELENGTH", "ForwardModel", "Photosphere", "EmpiricalPhotosphere",
    "BlackbodyPhotosphere", "TabulatedPhotosphere", "make_photosphere", "AccretionShock",
    "ExtinctionCurve", "XPInstrument", "default_instrument", "stellar_radius", "accretion_luminosity",
    "accretion_energy_flux", "spot_temperature", "planck_surface_flux",
]
