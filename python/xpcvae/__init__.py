"""xpcvae: posterior inference of stellar and accretion parameters of young stars
from Gaia BP/RP (XP) spectra with a conditional variational autoencoder.

For notebooks: ``from xpcvae import infer, PosteriorSampler`` (README, "Python usage");
both are imported on first use, so ``import xpcvae`` stays light.

Layers (each usable on its own):

- :mod:`xpcvae.params`   -- the seven-parameter space (names, units, bounds)
- :mod:`xpcvae.forward`  -- the forward model: parameters -> XP spectrum
- :mod:`xpcvae.simulate.noise`    -- realistic XP flux uncertainties
- :mod:`xpcvae.data.gridfile` -- HDF5 grids of model spectra
- :mod:`xpcvae.train.model`    -- the CVAE networks (Gabbard et al. 2022)
- :mod:`xpcvae.train.training` -- training loop
- :mod:`xpcvae.infer.sampler`  -- reference posterior sampler on ONNX Runtime
- :mod:`xpcvae.infer.api`      -- :func:`infer`: summaries of spectra as an astropy Table
- :mod:`xpcvae.verify`   -- ``xpcvae verify``: can an exported bundle be trusted?
- :mod:`xpcvae.rng`      -- the counter-based random numbers shared with Java
"""

import importlib

__version__ = "0.1.0"
__all__ = ["PosteriorSampler", "infer", "__version__"]


def __getattr__(name):
    # lazy: ONNX Runtime, astropy and the forward model load on first use, not on `import xpcvae`
    if name == "PosteriorSampler":
        from xpcvae.infer.sampler import PosteriorSampler

        return PosteriorSampler
    if name == "infer":
        return importlib.import_module("xpcvae.infer")  # the package, callable as xpcvae.infer.api.infer
    raise AttributeError(f"module 'xpcvae' has no attribute {name!r}")
