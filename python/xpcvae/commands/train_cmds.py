"""Sub-commands ``train``, ``import-bundle`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("train", help="train the CVAE on a grid (resumes an interrupted run)")
    p.add_argument("--grid", required=True, help="HDF5 grid file (layout: docs/grid.md)")
    p.add_argument("--out", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-5)
    p.add_argument("--kl-start", type=float, default=5.0, help="epoch where KL annealing starts (talk: 50)")
    p.add_argument("--kl-end", type=float, default=30.0, help="epoch where the KL weight reaches 1 (talk: 150)")
    p.add_argument("--patience", type=int, default=20)
    p.add_argument("--g-mag", type=float, nargs=2, default=(11.0, 17.5), metavar=("MIN", "MAX"),
                   help="G magnitude range of the noise augmentation")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--latent-size", type=int, default=10)
    p.add_argument("--components", type=int, default=8, help="Gaussian mixture components of r1(z|y)")
    p.add_argument("--trunk-widths", type=int, nargs="+", default=[512, 256])
    p.add_argument("--context-size", type=int, default=128)
    p.add_argument("--head-widths", type=int, nargs="+", default=[128])
    p.add_argument("--time-limit", type=float, default=None, help="stop (resumably) after this many seconds")
    p.add_argument("--error-shapes", choices=("family", "library"), default="family",
                   help="distortion of the reported errors: a low-order family, or real stars' error "
                        "arrays relative to the noise model (xpcvae.simulate.observe)")
    p.add_argument("--model-error", type=float, default=0.0, metavar="FRACTION",
                   help="rms of an unreported fractional model error added to the training spectra "
                        "(simulation-to-real mismatch; xpcvae.simulate.observe)")
    p.add_argument("--residual-templates", action="store_true",
                   help="multiply training spectra by the measured residuals of real stars of similar Teff "
                        "(forward model at their APOGEE labels vs their spectra; xpcvae.simulate.observe)")
    p.add_argument("--real-fraction", type=float, default=0.0, metavar="FRACTION",
                   help="share of each batch made of real training-library photospheres veiled with the "
                        "forward model's accretion at prior draws (xpcvae.train.real_photospheres)")
    p.add_argument("--q-warmup", type=int, default=0, metavar="EPOCHS",
                   help="train only the recognition encoder q for the first EPOCHS epochs (fine-tuning "
                        "from xpcvae import-bundle, whose q is new)")
    p.add_argument("--epoch-batches", type=int, default=None, metavar="N",
                   help="batches per epoch, drawn from a fresh permutation of the training split (default: all)")
    p.add_argument("--objective", choices=("elbo", "marginal"), default="elbo",
                   help="elbo: the CVAE cost (reconstruction + KL to r1); marginal: -log p(x|y) of the inference "
                        "networks estimated with draws from r1 (no recognition encoder; fine-tuning an imported bundle)")
    p.add_argument("--marginal-samples", type=int, default=2, metavar="S",
                   help="draws per mixture component of the marginal objective (more: a tighter estimate)")
    p.add_argument("--label-noise", action="store_true",
                   help="with --real-fraction: the cost of a real row convolves the network's density with the "
                        "row's label errors (APOGEE's, the A0 fit's), so the posteriors are not widened by them")
    p.add_argument("--init-from", default=None, metavar="RUN",
                   help="fine-tune: start from RUN's best weights (same grid, same split, same architecture)")
    p.set_defaults(func=_train)

    i = sub.add_parser("import-bundle", help="rebuild a training run from a bundle's ONNX weights (to fine-tune it)")
    i.add_argument("--bundle", required=True, help="bundle directory, e.g. export/default")
    i.add_argument("--out", required=True, help="new run directory, e.g. runs/imported")
    i.add_argument("--grid", default=None, help="grid to record (default: the manifest's grid path)")
    i.set_defaults(func=_import_bundle)

    e = sub.add_parser("evaluate", help="recovery and calibration on a run's held-out test split")
    e.add_argument("--run", required=True)
    e.add_argument("--out", default=None, help="output directory (default: the run's eval/)")
    e.add_argument("--grid", default=None, help="grid file (default: the one recorded in the run)")
    e.add_argument("--g-mags", type=float, nargs="+", default=[12.0, 15.0, 17.0])
    e.add_argument("--n-test", type=int, default=2000)
    e.add_argument("--samples", type=int, default=1000)
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--error-shapes", choices=("family", "library"), default=None,
                   help="override the run's reported-error distortion for the test spectra")
    e.add_argument("--model-error", type=float, default=None, metavar="FRACTION",
                   help="override the run's model error for the test spectra (0: noise only)")
    e.add_argument("--no-residual-templates", action="store_true",
                   help="test spectra without the run's residual templates")
    e.set_defaults(func=_evaluate)


def _train(args) -> int:
    # lazy: torch and h5py only when training (this module is imported for every command)
    from xpcvae.data.gridfile import read_grid
    from xpcvae.simulate.noise import NoiseModel
    from xpcvae.train.model import CVAEConfig
    from xpcvae.train.training import Trainer, TrainConfig

    grid = read_grid(args.grid)
    model_cfg = CVAEConfig(latent_size=args.latent_size, mixture_components=args.components,
                           trunk_widths=tuple(args.trunk_widths), context_size=args.context_size,
                           head_widths=tuple(args.head_widths))
    train_cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_min=args.lr_min,
                            kl_start=args.kl_start, kl_end=args.kl_end, patience=args.patience,
                            g_mag_min=args.g_mag[0], g_mag_max=args.g_mag[1], seed=args.seed,
                            threads=args.threads, time_limit_s=args.time_limit,
                            error_shapes=args.error_shapes, model_error=args.model_error,
                            residual_templates=args.residual_templates, real_fraction=args.real_fraction,
                            q_warmup_epochs=args.q_warmup, objective=args.objective, marginal_samples=args.marginal_samples,
                            epoch_batches=args.epoch_batches, label_noise=args.label_noise)
    trainer = Trainer(grid, args.out, NoiseModel.default(), model_cfg, train_cfg, grid_path=args.grid,
                      init_from=args.init_from)
    if trainer.epoch:
        print(f"resuming {args.out} at epoch {trainer.epoch}")
    result = trainer.fit()
    print(json.dumps(result, indent=2))
    return 0


def _import_bundle(args) -> int:
    # lazy: torch and onnx only for this command
    from xpcvae.train.import_bundle import import_bundle

    run = import_bundle(args.bundle, args.out, grid_path=args.grid)
    print(f"wrote {run}: the bundle's networks as best.pt (recognition encoder q new: fine-tune with "
          f"--init-from {run} --q-warmup EPOCHS)")
    return 0


def _evaluate(args) -> int:
    # lazy: torch, h5py and matplotlib only when evaluating
    from xpcvae.data.gridfile import read_grid
    from xpcvae.train.evaluate import evaluate_run
    from xpcvae.train.run import Run

    grid = read_grid(args.grid) if args.grid else None
    out = Path(args.out) if args.out else Run(args.run).eval_dir
    evaluate_run(args.run, out, g_mags=tuple(args.g_mags), n_test=args.n_test,
                           n_samples=args.samples, seed=args.seed, grid=grid,
                           observation={k: v for k, v in (("error_shapes", args.error_shapes),
                                                          ("model_error", args.model_error),
                                                          ("residual_templates",
                                                           False if args.no_residual_templates else None))
                                        if v is not None})
    print((out / "metrics.md").read_text(), end="")  # the table evaluate_run wrote
    return 0
