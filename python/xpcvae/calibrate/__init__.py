"""Fits of the empirical pieces of the forward and noise models to real XP spectra."""
