"""How much the label-noise convolution (``--label-noise``) can matter for a run's real rows.

    python -m xpcvae.tools.label_noise_report --run runs/imported --pool runs/ln-mg2/real_photospheres.npz

Prints, per stellar parameter, the pool's label errors, the widths of the decoder's per-draw
densities r2(x|y,z) on real rows (their logit-normal scale times u(1-u), in physical units), and
the cost -log p(x|y) of those rows with and without the convolution
(:func:`xpcvae.train.model.convolved_logit_normal_log_prob`). With ``--a0-check`` also the fitted
A0 of the training stars against the A0 from APOGEE's A_K (an independent estimate of the A0
label's error).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from xpcvae import params
from xpcvae.train.real_photospheres import RealPhotospheres
from xpcvae.train.run import Run

STELLAR = ("teff", "logg", "mh", "a0")


def decoder_widths(model, flux, flux_error, draws: int = 16, seed: int = 0) -> np.ndarray:
    """(N * draws, 7) widths in physical units of r2's logit-normals at draws z ~ r1(z|y)."""
    g = torch.Generator().manual_seed(seed)
    feats = model.features(flux, flux_error)
    logits, mean, log_std = model.r1(feats)
    ctx = model.r2.context(feats)
    b = feats.shape[0]
    comp = torch.multinomial(torch.softmax(logits, 1), draws, replacement=True, generator=g)
    idx = comp[..., None].expand(b, draws, mean.shape[2])
    z = torch.gather(mean, 1, idx) + torch.exp(torch.gather(log_std, 1, idx)) * torch.randn(b, draws, mean.shape[2], generator=g)
    loc, log_scale = model.r2.sample_head(ctx[:, None, :].expand(b, draws, ctx.shape[1]).reshape(b * draws, -1),
                                          z.reshape(b * draws, -1))
    u = torch.sigmoid(loc)
    return (torch.exp(log_scale) * u * (1 - u)).double().numpy() * (params.HIGH - params.LOW)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--a0-check", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = Run(args.run).load_model()
    pool = RealPhotospheres.load(args.pool)
    if pool.theta_error is None:
        raise SystemExit(f"{args.pool} carries no label errors")
    rows = torch.as_tensor(np.linspace(0, len(pool) - 1, args.rows).round().astype(np.int64))
    flux, err, x, xe = pool.flux[rows], pool.flux_error[rows], pool.x_unit[rows], pool.x_error_unit[rows]
    with torch.no_grad():
        widths = decoder_widths(model, flux, err)
        torch.manual_seed(1)
        plain = model.marginal_nll(flux, err, x, 8)
        torch.manual_seed(1)
        conv = model.marginal_nll(flux, err, x, 8, xe)
    print(f"{args.rows} pool rows, run {args.run}")
    print("| parameter | label error: median (84 %) | r2 per-draw width: 16 / 50 % | draws with width < error |")
    print("|---|---|---|---|")
    for name in STELLAR:
        j = params.INDEX[name]
        e = pool.theta_error[rows.numpy(), j]
        w = widths[:, j]
        below = np.mean(w.reshape(args.rows, -1) < e[:, None])
        print(f"| {name} | {np.median(e):.3g} ({np.percentile(e, 84):.3g}) | {np.percentile(w, 16):.3g} / "
              f"{np.median(w):.3g} | {below:.3f} |")
    print(f"cost -log p(x|y) of the real rows (8 draws per component): {plain.mean():.4f} without, "
          f"{conv.mean():.4f} with the convolution (mean difference {float((plain - conv).mean()):.4f} nats)")
    if args.a0_check:
        from xpcvae.train.real_photospheres import training_stars

        stars, theta, error, _ = training_stars()
        ref = np.isfinite(stars.a0_ref)
        d = theta[ref, params.INDEX["a0"]] - stars.a0_ref[ref]
        mad = 1.4826 * np.median(np.abs(d - np.median(d)))
        print(f"A0 fitted - A0 from A_K over {ref.sum()} training stars: median {np.median(d):+.3f}, robust scatter "
              f"{mad:.3f} mag; the fit's own error (a0_uncertainty): median {np.median(error[:, params.INDEX['a0']]):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
