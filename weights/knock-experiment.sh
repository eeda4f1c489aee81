#!/usr/bin/env bash
# The AV-vs-V experiment on the knock task: data, seeded frozen encoders, training of both variants with the same budget, held-out metrics in PyTorch and in the engine.
# Usage: weights/knock-experiment.sh [OUTDIR]   (environment: STEPS, BATCH, LR, WARMUP, SIZE, VIDEOS, FRAMES, THREADS, CASPNET,
#        EVAL=0 to skip the held-out metrics (tests of the plumbing),
#        VARIANTS: "av v" by default; two runs with VARIANTS=av and VARIANTS=v may share OUTDIR;
#        "avft" is the paper's second strategy: the AV model fine-tuned for FT_STEPS from the V model as
#        it is when avft first runs (saved as OUTDIR/v-pretrained.safetensors), audio parts from init-av;
#        "vmore" and "avmore" continue the V and the fine-tuned AV model as they are, each for MORE_STEPS
#        on a second, larger knock set OUTDIR/data-more (MORE_VIDEOS videos, another seed), so that
#        memorising the training videos stops paying; both are still evaluated on OUTDIR/data's fold 1)
# Writes OUTDIR (default runs/knock): data/, init-av.safetensors, av/ and v/ (checkpoints, logs,
# exported weights, F16 trained tensors), torch-*.json and engine-*.json (held-out metrics of
# fold 1), and table.md (the results table). Run again with a larger STEPS, it resumes both
# variants from their checkpoints (delete OUTDIR/<variant>/caspnet-<variant>.safetensors first).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/knock}
STEPS=${STEPS:-150}
VARIANTS=${VARIANTS:-av v}
BATCH=${BATCH:-8}
LR=${LR:-2e-4}
WARMUP=${WARMUP:-30}
SIZE=${SIZE:-32x64}
VIDEOS=${VIDEOS:-36}
FRAMES=${FRAMES:-48}
EVAL=${EVAL:-1}
THREADS=${THREADS:-2}
MORE_VIDEOS=${MORE_VIDEOS:-720}
MORE_STEPS=${MORE_STEPS:-2000}
CASPNET=${CASPNET:-./build/caspnet}
PY=/usr/bin/python3
mkdir -p "$OUT"
[ -d "$OUT/data" ] || $PY weights/knockdata.py --out "$OUT/data" --videos "$VIDEOS" --frames "$FRAMES" --size "$SIZE" --seed 0
# Seeded random encoders (no pretrained S3D/VGGish here), every BatchNorm calibrated on knock clips.
if [ ! -f "$OUT/init-av.safetensors" ]; then
  $PY weights/train.py --data "$OUT/data" --db Knock --split 1 --size "$SIZE" --variant av \
    --write-calib "$OUT/calib-clip.npy" "$OUT/calib-mel.npy" --calib-clips 4 --seed 0 --threads "$THREADS"
  "$CASPNET" init-weights --seed 0 --variant av --calib-clip "$OUT/calib-clip.npy" \
    --calib-logmel "$OUT/calib-mel.npy" "$OUT/init-av.safetensors"
fi
# Both variants start from the same file (the V model takes its visual keys) and train the
# same parts (everything but the encoders) with the same steps, batch, learning rate and seed.
for v in $VARIANTS; do
  model=$v steps=$STEPS init=(--init "$OUT/init-av.safetensors") data=$OUT/data seed=1 val=4
  if [ "$v" = avft ]; then
    model=av steps=${FT_STEPS:-500}
    if [ ! -f "$OUT/v-pretrained.safetensors" ]; then
      [ -f "$OUT/v/caspnet-v.safetensors" ] || { echo "knock-experiment: avft needs the V model (run VARIANTS=v first)" >&2; exit 2; }
      cp "$OUT/v/caspnet-v.safetensors" "$OUT/v-pretrained.safetensors"
    fi
    init+=(--init "$OUT/v-pretrained.safetensors")
  fi
  if [ "$v" = vmore ] || [ "$v" = avmore ]; then
    model=${v%more} steps=$MORE_STEPS data=$OUT/data-more seed=2 val=16
    from=$OUT/$model/caspnet-$model.safetensors
    [ "$model" = av ] && from=$OUT/avft/caspnet-avft.safetensors
    [ -f "$from" ] || { echo "knock-experiment: $v continues $from, which is not there yet" >&2; exit 2; }
    [ -d "$data" ] || $PY weights/knockdata.py --out "$data" --videos "$MORE_VIDEOS" --frames "$FRAMES" --size "$SIZE" --seed 7
    init+=(--init "$from")
  fi
  if [ ! -f "$OUT/$v/caspnet-$v.safetensors" ]; then
    resume=()
    [ -f "$OUT/$v/ck/last.pt" ] && resume=(--resume)
    $PY weights/train.py --data "$data" --db Knock --split 1 --size "$SIZE" --variant $model \
      "${init[@]}" --freeze video,audio --batch "$BATCH" --lr "$LR" --warmup "$WARMUP" --steps "$steps" \
      --seed $seed --threads "$THREADS" --val-stride $val --ckpt-dir "$OUT/$v/ck" --ckpt-every 25 \
      --log "$OUT/$v/log.jsonl" "${resume[@]}" \
      --export "$OUT/$v/caspnet-$v.safetensors" --export-trained "$OUT/$v/trained-$v-f16.safetensors"
  fi
  [ "$EVAL" = 0 ] && continue
  $PY weights/train.py --eval-only --data "$OUT/data" --db Knock --split 1 --size "$SIZE" --variant $model \
    --init "$OUT/$v/caspnet-$v.safetensors" --threads "$THREADS" --json "$OUT/torch-$v.json"
  "$CASPNET" predict --weights "$OUT/$v/caspnet-$v.safetensors" --dataset "$OUT/data" --db Knock --split 1 \
    --size "$SIZE" --out "$OUT/pred-$v" --quiet --force
  "$CASPNET" eval --pred "$OUT/pred-$v" --data "$OUT/data" --db Knock --split 1 --json "$OUT/engine-$v.json"
done
[ "$EVAL" = 0 ] || $PY - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
rows = ["| model | where | CC | NSS | AUC-J | SIM |", "|---|---|---|---|---|---|"]
for v, name in (("v", "CASP-Net(V)"), ("av", "CASP-Net(AV)"), ("avft", "CASP-Net(AV), fine-tuned from V"),
                ("vmore", "CASP-Net(V), then more videos"), ("avmore", "CASP-Net(AV) fine-tuned, then more videos")):
    if not all(os.path.exists(f"{out}/{src}-{v}.json") for src in ("torch", "engine")):
        continue   # not run, or its run has not finished yet
    for src in ("torch", "engine"):
        m = json.load(open(f"{out}/{src}-{v}.json"))["mean"]
        where = "PyTorch" if src == "torch" else "caspnet predict + eval"
        rows.append(f"| {name} | {where} | {m['cc']:.4f} | {m['nss']:.4f} | {m['auc_judd']:.4f} | {m['sim']:.4f} |")
open(f"{out}/table.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
