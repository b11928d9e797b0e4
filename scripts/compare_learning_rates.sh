#!/usr/bin/env bash
# Adam learning rate: the talk's 1e-5 against our 1e-3 (cosine decay), same grid, epochs and seed.
# Usage: bash scripts/compare_learning_rates.sh [EPOCHS]   (prints the validation cost per epoch)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-20}
OUT=${OUT:-/tmp/xpcvae-lr}
rm -rf "$OUT"; mkdir -p "$OUT"
.venv/bin/xpcvae grid --n 20000 --out "$OUT/grid20k.h5" --seed 7 --no-progress
for LR in 1e-3 1e-5; do
  .venv/bin/xpcvae train --grid "$OUT/grid20k.h5" --out "$OUT/lr$LR" --epochs "$EPOCHS" --lr "$LR" --lr-min 1e-6 \
      --kl-start 2 --kl-end 8 --seed 1 > "$OUT/lr$LR.log" 2>&1
done
.venv/bin/python - "$OUT" <<'PY'
import csv, sys
out = sys.argv[1]
rows = {lr: list(csv.DictReader(open(f"{out}/lr{lr}/log.csv"))) for lr in ("1e-3", "1e-5")}
print("epoch  val_cost(lr=1e-3)  val_cost(lr=1e-5)")
for a, b in zip(rows["1e-3"], rows["1e-5"]):
    print(f"{a['epoch']:>5}  {float(a['val_cost']):>17.3f}  {float(b['val_cost']):>17.3f}")
PY
