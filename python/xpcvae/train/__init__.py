"""The CVAE, its training loop and its evaluation on simulated test spectra."""
