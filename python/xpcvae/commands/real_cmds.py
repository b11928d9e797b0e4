"""Sub-commands ``validate-real`` (validation on real Gaia XP spectra with APOGEE labels) and
``validate-accretion`` (injection-recovery of accretion on held-out real photospheres)."""

from __future__ import annotations

import sys
import time

from xpcvae.commands.errors import CommandError


def register(sub) -> None:
    p = sub.add_parser("validate-real",
                       help="validate a bundle on held-out real XP spectra with APOGEE labels (docs/validation/)")
    p.add_argument("--bundle", required=True, help="model bundle directory, e.g. export/default")
    p.add_argument("--out", required=True, help="output directory, e.g. docs/validation/")
    p.add_argument("--max-stars", type=int, default=None,
                   help="use an evenly spaced subset of at most N test stars (default: all)")
    p.add_argument("--samples", type=int, default=1000, help="posterior draws per star (default 1000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--ood-check", type=int, default=600,
                   help="also run up to N held-out stars outside the box to measure the OOD flag rate (0: skip)")
    p.add_argument("--gof-calibration", type=int, default=1000,
                   help="also run up to N in-box library stars outside the test set to check the OOD threshold "
                        "(0: skip)")
    p.add_argument("--engine", choices=("python",), default="python",
                   help="inference engine (only the Python reference sampler)")
    p.set_defaults(func=_validate_real)

    p = sub.add_parser("validate-accretion",
                       help="inject accretion into held-out real spectra and recover it (docs/validation/)")
    p.add_argument("--bundle", required=True, help="model bundle directory, e.g. export/default")
    p.add_argument("--out", required=True, help="output directory, e.g. docs/validation/")
    p.add_argument("--stars", type=int, default=None,
                   help="number of held-out stars: all cooler than 4500 K, then evenly spaced hotter ones "
                        "(default 400)")
    p.add_argument("--samples", type=int, default=1000, help="posterior draws per star and version (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="seed of the injected accretion, its noise and the sampler")
    p.set_defaults(func=_validate_accretion)


def _validate_real(args) -> int:
    from xpcvae.validation.run import validate_real

    if args.samples < 1:
        raise CommandError(f"--samples must be >= 1, got {args.samples}")
    if args.max_stars is not None and args.max_stars < 1:
        raise CommandError(f"--max-stars must be >= 1, got {args.max_stars}")
    t0 = time.time()
    cmd = f"xpcvae validate-real --bundle {args.bundle} --out {args.out}"
    if args.max_stars:
        cmd += f" --max-stars {args.max_stars}"
    if args.samples != 1000:
        cmd += f" --samples {args.samples}"
    m = validate_real(args.bundle, args.out, max_stars=args.max_stars, n_samples=args.samples, seed=args.seed,
                      progress=sys.stderr.isatty(), command=cmd, ood_check=args.ood_check,
                      gof_calibration=args.gof_calibration)
    t = m["targets"]
    print(f"{m['n_stars']} stars in {time.time() - t0:.0f} s; "
          + "; ".join(f"{k}: bias {v['bias']:+.3g} (target ±{v['bias_target']:g}), scatter {v['scatter']:.3g} "
                      f"(target {v['scatter_target']:g}), 68% cov {v['coverage68']:.2f}" for k, v in t.items())
          + f"; report {args.out.rstrip('/')}/README.md", file=sys.stderr)
    return 0


def _validate_accretion(args) -> int:
    from xpcvae.validation.injection_run import DEFAULT_STARS, validate_accretion

    n_stars = DEFAULT_STARS if args.stars is None else args.stars
    if n_stars < 1:
        raise CommandError(f"--stars must be >= 1, got {n_stars}")
    if args.samples < 1:
        raise CommandError(f"--samples must be >= 1, got {args.samples}")
    cmd = f"xpcvae validate-accretion --bundle {args.bundle} --out {args.out}"
    if n_stars != DEFAULT_STARS:
        cmd += f" --stars {n_stars}"
    if args.samples != 1000:
        cmd += f" --samples {args.samples}"
    if args.seed != 42:
        cmd += f" --seed {args.seed}"
    m = validate_accretion(args.bundle, args.out, n_stars=n_stars, n_samples=args.samples, seed=args.seed,
                           progress=sys.stderr.isatty(), command=cmd)
    a = m["by_range"]["all"]
    rec = a["prior"]["recovery"]
    print(f"{m['n_stars']} stars in {m['timings']['total_s']:.0f} s; prior draws: 68% cov log Mdot "
          f"{rec['log_mdot']['coverage68']:.2f}, ff {rec['ff']['coverage68']:.2f}, "
          f"median Teff shift {a['prior']['teff_shift']['median']:+.0f} K; strong detected "
          f"{a['strong']['detection_rate_strong']:.2f}; false detections {a['false_detection_rate_unveiled']:.3f}; "
          f"report {args.out.rstrip('/')}/accretion_injection.md", file=sys.stderr)
    return 0
