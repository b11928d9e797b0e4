"""Simulators on top of the forward model: grids of spectra, the noise model, the observation model used in training."""
