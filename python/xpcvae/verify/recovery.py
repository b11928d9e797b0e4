"""A recovery sanity check: posterior medians of simulated spectra near their truth."""

from __future__ import annotations

import numpy as np

from xpcvae.bundle import ModelBundle
from xpcvae.infer.api import infer
from xpcvae.verify.report import Check
from xpcvae.verify.simulate import G_RANGE, simulated_spectra

NAME = "recovery"
#: "near": |median - truth| < SIGMAS posterior sigmas, sigma = (p84 - p16) / 2 ...
SIGMAS = 3.0
#: ... for at least this fraction of the (spectrum, parameter) pairs
MIN_FRACTION = 0.9


def recovery(bundle: ModelBundle, n: int = 40, samples: int = 1000, seed: int = 2) -> Check:
    """Posterior medians of ``n`` simulated spectra (:func:`~xpcvae.verify.simulate.simulated_spectra`)
    through the Python engine (:func:`xpcvae.infer`): at least :data:`MIN_FRACTION` of all (spectrum,
    parameter) medians within :data:`SIGMAS` posterior sigmas of the truth; an error row counts as a miss."""
    theta, flux, sigma = simulated_spectra(bundle, n, seed)
    table = infer((flux, sigma), bundle=bundle, samples=samples, seed=seed)
    names = bundle.parameter_names
    ok_rows = np.asarray(table["status"]) == "ok"
    z = np.full(theta.shape, np.inf)
    for j, p in enumerate(names):
        med = np.asarray(table[f"{p}_median"], dtype=float)
        width = 0.5 * (np.asarray(table[f"{p}_p84"], dtype=float) - np.asarray(table[f"{p}_p16"], dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            z[:, j] = np.where(ok_rows, np.abs(med - theta[:, j]) / width, np.inf)
    near = z < SIGMAS
    fraction = float(near.mean())
    per = near.mean(axis=0)
    worst = int(np.argmin(per))
    figure = (f"{100 * fraction:.1f} % of {near.size} posterior medians ({n} simulated spectra, G {G_RANGE[0]:g}-"
              f"{G_RANGE[1]:g}, x {len(names)} parameters) within {SIGMAS:g} sigma of the truth (limit "
              f"{100 * MIN_FRACTION:g} %); lowest: {names[worst]} {100 * per[worst]:.0f} %")
    if not ok_rows.all():
        figure += f"; {int((~ok_rows).sum())} error rows"
    return Check.of(NAME, fraction >= MIN_FRACTION, figure, fraction, MIN_FRACTION)
