"""xpcvae: posterior inference of stellar and accretion parameters of young stars
from Gaia BP/RP (XP) spectra with a conditional variational autoencoder.

Layers (each usable on its own):

- :mod:`xpcvae.params`   -- the seven-parameter space (names, units, bounds)
- :mod:`xpcvae.forward`  -- the forward model: parameters -> XP spectrum
- :mod:`xpcvae.simulate.noise`    -- realistic XP flux uncertainties
- :mod:`xpcvae.data.gridfile` -- HDF5 grids of model spectra
- :mod:`xpcvae.train.model`    -- the CVAE networks (Gabbard et al. 2022)
- :mod:`xpcvae.train.training` -- training loop
- :mod:`xpcvae.infer.sampler`  -- reference posterior sampler on ONNX Runtime
- :mod:`xpcvae.rng`      -- the counter-based random numbers shared with Java
"""

__version__ = "0.1.0"
