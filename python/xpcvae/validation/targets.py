"""The accuracy targets on real stars, and their evaluation overall and in every APOGEE Teff range.

The targets (the mission's, for cool accreting stars; cf. Gaia DR3 GSP-Phot, ~110 K in Teff,
Andrae et al. 2023, A&A 674, A27, docs/science.md section 5):

- robust scatter of (posterior median - APOGEE): Teff <= 110 K overall and <= 120 K in every
  1000-K range; log g <= 0.20 dex and [M/H] <= 0.10 dex overall and in every range;
- |bias| (median of the difference) <= 40 K / 0.05 dex / 0.05 dex overall and in every range;
- the posterior 68 % interval contains the APOGEE value for a fraction of the stars within
  [0.60, 0.76] (calibrated: 0.68, neither over- nor under-confident) overall and in every range.

A target is "met" (True), "not met" (False) or not evaluated (None: no stars in the range).
"""

from __future__ import annotations

import math

#: the parameters with targets
TARGETED = ("teff", "logg", "mh")
#: the whole-set row's label in the per-range metrics (:func:`xpcvae.validation.metrics.teff_bin_masks`)
ALL = "all"
#: robust scatter at most: overall and in each Teff range
SCATTER_MAX = {"teff": {ALL: 110.0, "range": 120.0}, "logg": {ALL: 0.20, "range": 0.20},
               "mh": {ALL: 0.10, "range": 0.10}}
#: |bias| at most, overall and in each Teff range
BIAS_MAX = {"teff": 40.0, "logg": 0.05, "mh": 0.05}
#: the fraction of references inside the 68 % interval must lie in this window (also used by validate-accretion)
COVERAGE68_RANGE = (0.60, 0.76)


def scatter_max(name: str, label: str) -> float:
    """The scatter target of parameter ``name`` for the row ``label`` ("all" or a Teff range)."""
    return SCATTER_MAX[name][ALL if label == ALL else "range"]


def _check(value: float, ok: bool) -> bool | None:
    return None if not math.isfinite(value) else bool(ok)


def evaluate_row(row: dict, label: str) -> dict:
    """Per targeted parameter of one per-range row (``robust_stats`` + coverage68 per parameter):
    values, limits and met / not met / None; ``met``: all three met (None if any is None)."""
    out = {}
    lo, hi = COVERAGE68_RANGE
    for name in TARGETED:
        r = row[name]
        s, b, c = r["scatter"], r["bias"], r["coverage68"]
        smax, bmax = scatter_max(name, label), BIAS_MAX[name]
        t = {"scatter": s, "scatter_target": smax, "scatter_ok": _check(s, s <= smax),
             "bias": b, "bias_target": bmax, "bias_ok": _check(b, abs(b) <= bmax),
             "coverage68": c, "coverage68_range": list(COVERAGE68_RANGE), "coverage68_ok": _check(c, lo <= c <= hi)}
        flags = (t["scatter_ok"], t["bias_ok"], t["coverage68_ok"])
        t["met"] = None if None in flags else all(flags)
        out[name] = t
    return out


def evaluate_targets(by_teff: dict) -> dict:
    """``{range label: evaluate_row(...)}`` for every row of the per-Teff-range metrics."""
    return {label: evaluate_row(row, label) for label, row in by_teff.items()}


def missed(targets_by_teff: dict) -> list[tuple[str, str, list[str]]]:
    """(range, parameter, [what is missed]) for every evaluated target that is not met."""
    out = []
    for label, row in targets_by_teff.items():
        for name, t in row.items():
            what = [k for k in ("scatter", "bias", "coverage68") if t[f"{k}_ok"] is False]
            if what:
                out.append((label, name, what))
    return out
