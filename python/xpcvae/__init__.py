"""xpcvae: posterior inference of stellar and accretion parameters of young stars
from Gaia BP/RP (XP) spectra with a conditional variational autoencoder.

Layers (each usable on its own):

- :mod:`xpcvae.params`   -- the seven-parameter space (names, units, bounds)
- :mod:`xpcvae.forward`  -- the forward model: parameters -> XP spectrum
- :mod:`xpcvae.noise`    -- realistic XP flux uncertainties
- :mod:`xpcvae.gridfile` -- HDF5 grids of model spectra
- :mod:`xpcvae.model`    -- the CVAE networks (Gabbard et al. 2022)
- :mod:`xpcvae.training` -- training loop
- :mod:`xpcvae.sampler`  -- reference posterior sampler on ONNX Runtime
- :mod:`xpcvae.rng`      -- the counter-based random numbers shared with Java
"""

__version__ = "0.1.0"
