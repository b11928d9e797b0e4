"""Sub-command ``compare-reference``: CVAE posteriors against converged dynesty posteriors."""

from __future__ import annotations

import shlex
import sys
import time

from xpcvae.commands.errors import CommandError


def register(sub) -> None:
    p = sub.add_parser("compare-reference",
                       help="compare a bundle's posteriors with two converged dynesty runs per simulated spectrum "
                            "(docs/validation/reference-posteriors.md; needs the `train` and `bench` extras)")
    p.add_argument("--bundle", required=True, help="model bundle directory, e.g. export/default")
    p.add_argument("--out", required=True, help="output directory, e.g. docs/validation/")
    p.add_argument("--n-spectra", type=int, default=20,
                   help="simulated spectra, split evenly over --g-mags (default 20)")
    p.add_argument("--g-mags", type=float, nargs="+", default=[12.0, 15.0], help="G magnitudes (default 12 15)")
    p.add_argument("--draws", type=int, default=5000, help="CVAE draws per spectrum (default 5000)")
    p.add_argument("--nlive", type=int, default=200, help="dynesty live points (default 200)")
    p.add_argument("--dlogz", type=float, default=0.01, help="dynesty stopping threshold (default 0.01)")
    p.add_argument("--seed", type=int, default=2026, help="seed of the spectra, the runs and the draws")
    p.add_argument("--processes", type=int, default=1, help="dynesty runs in parallel (default 1)")
    p.set_defaults(func=_compare_reference)


def _compare_reference(args) -> int:
    from xpcvae.validation.reference import compare_reference

    for name in ("n_spectra", "draws", "nlive", "processes"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0.0 < args.dlogz < 10.0:
        raise CommandError(f"--dlogz must be in (0, 10), got {args.dlogz}")
    try:
        import dynesty  # noqa: F401
    except ImportError:
        raise CommandError("dynesty is not installed: pip install 'xpcvae[bench]'") from None
    cmd = "xpcvae " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["compare-reference"] \
        else f"xpcvae compare-reference --bundle {args.bundle} --out {args.out} --n-spectra {args.n_spectra}"
    t0 = time.time()
    r = compare_reference(args.bundle, args.out, n_spectra=args.n_spectra, g_mags=tuple(args.g_mags),
                          seed=args.seed, n_draws=args.draws, nlive=args.nlive, dlogz=args.dlogz,
                          processes=args.processes, progress=True, command=cmd)
    s = r["summary"]
    for g, table in s["per_g"].items():
        print(f"{g}: median JS CVAE/ref (ref/ref) bits: "
              + ", ".join(f"{k} {v['js_cvae_ref']['median']:.3f} ({v['js_ref_ref']['median']:.3f})"
                          for k, v in table.items()), file=sys.stderr)
    report = f"{args.out.rstrip('/')}/reference-posteriors.md"
    print(f"{r['n_spectra']} spectra in {time.time() - t0:.0f} s; report {report}", file=sys.stderr)
    return 0
