"""File formats and data sources: grid files, the real-star library (with the held-out rule), spectra CSV, Gaia XP products."""
