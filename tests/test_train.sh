#!/usr/bin/env bash
# Smoke test of weights/train.py on the synthetic knock task at 32x32: the loss falls, resume continues the step count, the export loads in the engine and reproduces PyTorch's held-out metrics, both training strategies and the demo recipe run, the log-mel matches the engine's.
# Usage (from CTest): test_train.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
SRC=$2
. "$(dirname "$0")/testlib.sh"
need_torch "weights/train.py not tested"
TRAIN=("$PY" "$SRC/weights/train.py" --threads 2 --quiet)
KD=("$PY" "$SRC/weights/knockdata.py")
SECONDS=0

# 1. Data in both layouts, initial weights calibrated on the engine's synthetic clips.
"${KD[@]}" --out "$W/knock" --videos 6 --frames 20 --size 32x32 --seed 1 > /dev/null \
  && ok "knockdata.py: STAViS layout" || { bad "knockdata.py stavis"; finish test_train; }
"${KD[@]}" --out "$W/dhf1k" --layout dhf1k --videos 4 --frames 18 --size 32x32 --seed 2 > /dev/null \
  && ok "knockdata.py: DHF1K layout" || bad "knockdata.py dhf1k"
"${KD[@]}" --out "$W/knock" --videos 6 > /dev/null 2>&1 && bad "knockdata.py overwrote without --force" \
  || ok "knockdata.py refuses an existing folder"
for v in av v; do
  "$BIN" init-weights --seed 3 --variant $v --calib-size 32x32 --calib-clips 2 "$W/init-$v.safetensors" > /dev/null \
    || bad "init-weights $v"
done

# 2. The log-mel of the trainer against the engine's, on a knock WAV (a window at the start, zero-padded, and one inside).
wav=$W/knock/video_audio/Knock/k001/k001.wav
for r in 0:15 4:19; do
  "$BIN" logmel --wav "$wav" --fps 24 --frames $r --out "$W/mel_$r.npy" --quiet || bad "caspnet logmel $r"
  SRC=$SRC "$PY" - "$wav" $r "$W/mel_$r.npy" <<'PY' && ok "log-mel frames $r within 1e-4 of caspnet logmel" || bad "log-mel $r"
import os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.environ["SRC"], "weights"))
import traindata as td
wav, r, eng = sys.argv[1:4]
a, b = (int(x) for x in r.split(":"))
mine = td.logmel_clip(td.read_wav(wav), a, b, 24.0)
e = np.load(eng).reshape(96, 64)
d = float(np.abs(mine - e).max())
print(f"  max |difference| {d:.2e}, range [{e.min():.2f}, {e.max():.2f}]")
sys.exit(0 if d <= 1e-4 and e.max() - e.min() > 1 else 1)
PY
done

# 3. Training: 8 steps with a checkpoint, then resume to 12; the loss falls (20 clips, so the
#    12 steps of 2 see most clips once or twice).
common=(--data "$W/knock" --db Knock --split 1 --size 32x32 --variant av --init "$W/init-av.safetensors"
        --freeze video,audio --batch 2 --lr 5e-4 --warmup 2 --seed 5 --val-stride 0 --ckpt-dir "$W/ck" --ckpt-every 4
        --log "$W/log.jsonl")
"${TRAIN[@]}" "${common[@]}" --steps 8 > "$W/t1.out" 2>&1 && ok "train.py: 8 steps" \
  || { bad "train.py 8 steps"; cat "$W/t1.out"; }
"${TRAIN[@]}" "${common[@]}" --steps 12 --resume --export "$W/av.safetensors" --export-trained "$W/av-trained.safetensors" \
  > "$W/t2.out" 2>&1 && grep -q "resumed .* at step 8" "$W/t2.out" && ok "train.py: resumed at step 8" \
  || { bad "train.py resume"; cat "$W/t2.out"; }
"$PY" - "$W/log.jsonl" <<'PY' && ok "steps 1..12 logged once each; loss falls" \
  || { bad "step count or loss"; tail -5 "$W/t1.out" "$W/t2.out"; }
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l or '"skipped"' in l]
steps = [r["step"] for r in rec]
loss = [r["loss"] for r in rec if "loss" in r]
skipped = [r["step"] for r in rec if "skipped" in r]
first, last = sum(loss[:3]) / 3, sum(loss[-3:]) / 3
print(f"  steps {steps} (skipped: {skipped}); mean loss of the first 3 {first:.4f}, of the last 3 {last:.4f}")
sys.exit(0 if steps == list(range(1, 13)) and len(skipped) <= 2 and last < first - 0.05 else 1)
PY
grep -q '"step": 13' "$W/log.jsonl" && bad "trained past --steps" || ok "no step past --steps 12"
"${TRAIN[@]}" --data "$W/knock" --variant av --size 32x32 --init "$W/init-av.safetensors" --ckpt-dir "$W/ck" \
  --resume --steps 14 > "$W/t4.out" 2>&1 && bad "resume with another --freeze accepted" \
  || { grep -q "another variant or --freeze" "$W/t4.out" && ok "resume with another --freeze refused"; } \
  || bad "resume with another --freeze: $(tail -1 "$W/t4.out")"

# 4. The export in the engine: it loads, and the engine's maps give PyTorch's held-out metrics.
"$BIN" info "$W/av.safetensors" > /dev/null && ok "the export loads in caspnet" || bad "caspnet info on the export"
"$PY" "$SRC/weights/convert.py" --variant av --full "$W/init-av.safetensors" --full "$W/av-trained.safetensors" \
  --out "$W/assembled.safetensors" > /dev/null 2>&1 && "$BIN" info "$W/assembled.safetensors" > /dev/null \
  && ok "init + F16 trained tensors assemble with convert.py" || bad "assembling the F16 delta"
"${TRAIN[@]}" --eval-only --data "$W/knock" --db Knock --split 1 --size 32x32 --variant av \
  --init "$W/av.safetensors" --batch 4 --json "$W/torch.json" > /dev/null 2>&1 || bad "train.py --eval-only"
"$BIN" predict --weights "$W/av.safetensors" --dataset "$W/knock" --db Knock --split 1 --size 32x32 \
  --out "$W/pred" --quiet > "$W/pred.out" 2>&1 || { bad "caspnet predict --dataset"; cat "$W/pred.out"; }
"$BIN" eval --pred "$W/pred" --data "$W/knock" --db Knock --split 1 --json "$W/engine.json" > /dev/null \
  || bad "caspnet eval"
"$PY" - "$W/torch.json" "$W/engine.json" <<'PY' && ok "engine's held-out CC, NSS, AUC-J, SIM within 1e-3 of PyTorch's" \
  || { bad "engine vs PyTorch held-out metrics"; cp -r "$W/pred" "$W/knock" "$W/torch.json" "$W/av.safetensors" "${TRAIN_TEST_KEEP:-/nonexistent}/" 2>/dev/null; }
import json, sys
t = json.load(open(sys.argv[1]))["mean"]
e = json.load(open(sys.argv[2]))["mean"]
keys = ("cc", "nss", "auc_judd", "sim")
print("  " + "  ".join(f"{k} torch {t[k]} engine {e[k]}" for k in keys))
if any(t[k] is None or e[k] is None for k in keys):
    sys.exit(1)   # a constant map: nothing to compare
sys.exit(0 if max(abs(t[k] - e[k]) for k in keys) <= 1e-3 else 1)
PY

# 5. The paper's second strategy: CASP-Net(V) on the DHF1K layout, then AV fine-tuning from it.
"${TRAIN[@]}" --data "$W/dhf1k" --layout dhf1k --size 32x32 --variant v --init "$W/init-v.safetensors" \
  --freeze video --batch 2 --steps 3 --val-stride 8 --export "$W/v.safetensors" > "$W/v.out" 2>&1 \
  && "$BIN" info "$W/v.safetensors" > /dev/null && ok "V pre-training on the DHF1K layout" \
  || { bad "V pre-training"; cat "$W/v.out"; }
"${TRAIN[@]}" --data "$W/knock" --db Knock --size 32x32 --variant av --init "$W/init-av.safetensors" \
  --init "$W/v.safetensors" --freeze video,audio --batch 2 --steps 3 --val-stride 0 --export "$W/av2.safetensors" \
  > "$W/av2.out" 2>&1 && "$BIN" info "$W/av2.safetensors" > /dev/null && ok "AV fine-tuning from the V weights" \
  || { bad "AV fine-tuning"; cat "$W/av2.out"; }

# 6. The demo recipe end to end at a tiny size (weights/demo-train.sh: V, the AV model fine-tuned
#    from it, then on a second set; the held-out metrics are left out here, section 4 checks them).
VIDEOS=6 FRAMES=18 BATCH=2 STEPS=2 FT_STEPS=2 MORE_VIDEOS=6 MORE_STEPS=2 WARMUP=1 SIZE=32x32 EVAL=0 THREADS=2 \
  CASPNET=$BIN bash "$SRC/weights/demo-train.sh" "$W/demo" > "$W/demo.out" 2>&1 \
  && [ -f "$W/demo/avmore/trained-avmore-f16.safetensors" ] && "$BIN" info "$W/demo/avmore/caspnet-avmore.safetensors" > /dev/null \
  && grep -q "data-more (stavis, 6 videos" "$W/demo.out" \
  && ok "demo-train.sh at 6 videos, 2 steps a stage: $(tail -1 "$W/demo.out")" \
  || { bad "demo-train.sh"; tail -20 "$W/demo.out"; }

# 7. Errors name what is wrong.
"${TRAIN[@]}" --data "$W/nothing" --db Knock --size 32x32 > "$W/e.out" 2>&1
[ $? -eq 2 ] && grep -q "nothing/fold_lists/Knock_list_train_1_fps.txt" "$W/e.out" \
  && ok "a missing dataset is named" || bad "missing dataset: $(cat "$W/e.out")"
"${TRAIN[@]}" --data "$W/knock" --size 30x32 > "$W/e.out" 2>&1
[ $? -eq 2 ] && grep -q "multiples of 32" "$W/e.out" && ok "a bad size is refused" || bad "bad size accepted"
"$PY" "$SRC/weights/train.py" --help | grep -q -- "--export-trained" && ok "train.py --help" || bad "train.py --help"
echo "($SECONDS s)"
finish test_train
