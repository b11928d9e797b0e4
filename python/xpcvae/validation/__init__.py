"""Validation on real Gaia XP spectra with APOGEE labels."""
