#!/usr/bin/env bash
# caspnet eval end to end on the synthetic dataset: ground truth against itself, a centre-bias map against an independent numpy evaluation, and the error cases.
# Usage (from CTest): test_eval.sh CASPNET_BIN SOURCE_DIR BUILD_DIR
set -uo pipefail
SRC=$2
. "$(dirname "$0")/testlib.sh"

D=$W/data
"$BIN" eval --make-synthetic "$D" > /dev/null || { echo "FAIL make-synthetic"; exit 1; }
"$BIN" eval --help | grep -q "usage: caspnet eval" && ok "eval --help" || bad "eval --help"

# 1. The ground truth against itself, no blur: the ideal scores.
for db in SynthA SynthB; do
  "$BIN" eval --pred "$D/pred_gt" --data "$D" --db $db --no-blur --json "$W/gt_$db.json" > "$W/gt_$db.txt" 2> "$W/err" \
    || { bad "GT vs GT on $db"; cat "$W/err"; continue; }
  $PY - "$W/gt_$db.json" <<'PY' && ok "GT vs GT on $db: $(tail -1 "$W/gt_$db.txt")" || bad "GT vs GT on $db"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["mean"]
ok = abs(m["cc"] - 1) < 1e-6 and abs(m["sim"] - 1) < 1e-6 and abs(m["kl"]) < 1e-6
ok = ok and m["nss"] > 2.5 and m["auc_judd"] > 0.97 and m["auc_borji"] > 0.95
for s in r["splits"]:
    for v in s["videos"]:
        for f in v["frames"]:
            ok = ok and abs(f["cc"] - 1) < 1e-6 and abs(f["sim"] - 1) < 1e-6
if not ok:
    print(json.dumps(m))
sys.exit(0 if ok else 1)
PY
done
head -2 "$W/gt_SynthA.txt" | tail -1 | grep -Eq '^split +videos +frames +CC +NSS +AUC-J +SIM +sAUC$' \
  && ok "table columns in the paper's order" || bad "table header: $(head -2 "$W/gt_SynthA.txt")"

# 2. A centre-bias map (a fixed Gaussian, 30 x 40, so the resize is exercised)
#    through the full protocol, against tests/torch_reference/metrics_ref.py.
# The checker re-implements the protocol (fold lists, MAT v5 parsing, sAUC
# negatives, seeds, averaging) on top of metrics_ref.py's metric functions.
# It reads each dense map from pred_gt/ (the JPEG as stb_image decodes it,
# stored losslessly by the generator) because PIL's JPEG decoder differs from
# stb_image's by a grey level on some pixels; it checks that difference too.
cat > "$W/eval_check.py" <<'PY'
import json, math, os, struct, sys, zlib
import numpy as np
from PIL import Image
sys.path.insert(0, os.path.join(os.environ["SRC"], "tests", "torch_reference"))
import metrics_ref as mr

root, pred, db, frames_mode, jpath, cpath = sys.argv[1:7]
KEYS = ["cc", "nss", "auc_judd", "sim", "sauc", "kl", "auc_borji"]


def mat5(path):
    """eyeMap of a MAT v5 file (compressed or not), as a row-major array."""
    raw = open(path, "rb").read()
    assert raw[126:128] == b"IM", path
    def elements(buf):
        off = 0
        while off + 8 <= len(buf):
            t, n = struct.unpack_from("<II", buf, off)
            if t >> 16:  # small element: size in the upper half, data in 4 bytes
                yield t & 0xFFFF, buf[off + 4: off + 4 + (t >> 16)]
                off += 8
                continue
            yield t, buf[off + 8: off + 8 + n]
            off += 8 + n + ((8 - n % 8) % 8 if t != 15 else 0)
    for t, data in elements(raw[128:]):
        if t == 15:
            t, data = next(elements(zlib.decompress(data)))
        if t != 14:
            continue
        sub = list(elements(data))
        dims = np.frombuffer(sub[1][1], "<i4")
        name = sub[2][1].decode()
        dtype = {9: "<f8", 2: "u1", 7: "<f4"}[sub[3][0]]
        if name == "eyeMap":
            return np.frombuffer(sub[3][1], dtype).reshape(dims[1], dims[0]).T.astype(np.float64)
    raise SystemExit(f"{path}: no eyeMap")


def fnv(video, frame):
    h = 0xCBF29CE484222325
    for b in f"{video}:{frame}".encode():
        h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def lists():
    fl = f"{root}/fold_lists"
    num = [f"{fl}/{db}_list_test_{k}_fps.txt" for k in (1, 2, 3)]
    num = [p for p in num if os.path.exists(p)]
    return num or [f"{fl}/{db}_list_test_fps.txt"]


def nanmean(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


worst_jpeg = 0
ref_frames, ref_videos, ref_splits = {}, {}, []
for lp in lists():
    vid_means = []
    for line in open(lp):
        if not line.split():
            continue
        video, nframes = line.split()[0], int(line.split()[1])
        fix = [mat5(f"{root}/annotations/{db}/{video}/fixMap_{f:05d}.mat") for f in range(1, nframes + 1)]
        union = sum(f != 0 for f in fix) > 0
        per = []
        for f in range(1, nframes + 1):
            F = fix[f - 1]
            if frames_mode == "valid" and not F.any():
                continue
            Q = np.array(Image.open(f"{root}/pred_gt/{db}/{video}/img_{f:05d}.png"), np.float64)
            J = np.array(Image.open(f"{root}/annotations/{db}/{video}/maps/eyeMap_{f:05d}.jpg").convert("L"), np.float64)
            worst_jpeg = max(worst_jpeg, np.abs(J - Q).max())
            raw = np.array(Image.open(f"{pred}/{db}/{video}/img_{f:05d}.png"), np.float64)
            P = mr.prepare(raw, *Q.shape).astype(np.float32).astype(np.float64)  # the C side keeps float32
            other = np.flatnonzero((union & (F == 0)).ravel())
            seed = fnv(video, f)
            m = {"cc": mr.cc(P, Q), "nss": mr.nss(P, F), "auc_judd": mr.auc_judd(P, F), "sim": mr.sim(P, Q),
                 "sauc": mr.sauc(P, F, other, seed) if other.size else math.nan, "kl": mr.kl(P, Q),
                 "auc_borji": mr.auc_borji(P, F, seed)}
            ref_frames[(lp, video, f)] = m
            per.append(m)
        vm = {k: nanmean([m[k] for m in per]) for k in KEYS}
        ref_videos[(lp, video)] = vm
        vid_means.append(vm)
    ref_splits.append({k: nanmean([v[k] for v in vid_means]) for k in KEYS})
ref_mean = {k: nanmean([s[k] for s in ref_splits]) for k in KEYS}

worst, count = 0.0, 0
def cmp(ours, want, what):
    global worst, count
    for k in KEYS:
        o = math.nan if ours[k] is None else ours[k]
        if math.isnan(o) or math.isnan(want[k]):
            if not (math.isnan(o) and math.isnan(want[k])):
                raise SystemExit(f"{what} {k}: ours {o}, reference {want[k]}")
            continue
        worst = max(worst, abs(o - want[k]))
        count += 1
        if abs(o - want[k]) > 1e-5:
            raise SystemExit(f"{what} {k}: ours {o!r}, reference {want[k]!r}")

r = json.load(open(jpath))
cmp(r["mean"], ref_mean, "dataset")
nframes_json = 0
for s, rs in zip(r["splits"], ref_splits):
    cmp(s["mean"], rs, f"split {s['split']}")
    for v in s["videos"]:
        cmp(v["mean"], ref_videos[(s["list"], v["video"])], v["video"])
        for f in v["frames"]:
            cmp(f, ref_frames[(s["list"], v["video"], f["frame"])], f"{v['video']} frame {f['frame']}")
            nframes_json += 1
if nframes_json != len(ref_frames) or len(r["splits"]) != len(ref_splits):
    raise SystemExit(f"JSON has {nframes_json} frames and {len(r['splits'])} splits, reference {len(ref_frames)} and {len(ref_splits)}")
rows = [l.rstrip("\n").split(",") for l in open(cpath)][1:]
csv_frames = sum(1 for row in rows if row[0] == "frame")
ds = [row for row in rows if row[0] == "dataset"][0]
if csv_frames != nframes_json or any(abs(float(ds[5 + i]) - ref_mean[k]) > 1e-5 for i, k in enumerate(KEYS)):
    raise SystemExit("CSV disagrees with the reference")
if worst_jpeg > 3:
    raise SystemExit(f"pred_gt differs from PIL's decoding of the JPEG by {worst_jpeg} grey levels")
print(f"{count} numbers over {nframes_json} frames, max |diff| {worst:.1e}; "
      f"CC {ref_mean['cc']:.4f} NSS {ref_mean['nss']:.4f} AUC-J {ref_mean['auc_judd']:.4f} "
      f"SIM {ref_mean['sim']:.4f} sAUC {ref_mean['sauc']:.4f}")
PY
export SRC
if $PY -c 'import numpy, PIL' 2>/dev/null; then
  $PY - "$D" "$W/centre" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root, out = sys.argv[1], sys.argv[2]
y, x = np.mgrid[0:30, 0:40]
g = np.exp(-((y - 14.5) ** 2 / (2 * 7.0 ** 2) + (x - 19.5) ** 2 / (2 * 9.0 ** 2)))
img = Image.fromarray(np.round(255 * g).astype(np.uint8))
for db in ("SynthA", "SynthB"):
    for video in sorted(os.listdir(f"{root}/video_frames/{db}")):
        os.makedirs(f"{out}/{db}/{video}")
        for name in os.listdir(f"{root}/video_frames/{db}/{video}"):
            img.save(f"{out}/{db}/{video}/{name[:-4]}.png")
PY
  for db in SynthA SynthB; do
    for frames in all valid; do
      if "$BIN" eval --pred "$W/centre" --data "$D" --db $db --frames $frames --json "$W/c.json" --csv "$W/c.csv" \
           > "$W/c.txt" 2> "$W/err"; then
        msg=$($PY "$W/eval_check.py" "$D" "$W/centre" $db $frames "$W/c.json" "$W/c.csv" 2>&1) \
          && ok "centre bias on $db, frames $frames: $msg" || bad "centre bias on $db, frames $frames: $msg"
      else
        bad "centre bias on $db"; cat "$W/err"
      fi
    done
  done
  tail -2 "$W/c.txt" | sed 's/^/     /'
else
  echo "note: numpy or PIL missing for /usr/bin/python3; the centre-bias reference check is skipped"
fi

# 3. Errors: one clear line naming the file, exit 1 (2 for usage), or a
#    warning and a skip with --skip-missing.
expect_error() {
  local name=$1 rc_want=$2 pat=$3; shift 3
  "$@" > "$W/stdout" 2> "$W/stderr"; local rc=$?
  local lines; lines=$(grep -c . "$W/stderr")
  if [ $rc -eq "$rc_want" ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$W/stderr"; then
    ok "$name: $(cat "$W/stderr")"
  else
    bad "$name (rc $rc, $lines stderr lines, pattern '$pat'):"; cat "$W/stderr"
  fi
}
fresh() { rm -rf "$W/bad"; cp -r "$D" "$W/bad"; }
E=("$BIN" eval --pred "$W/bad/pred_gt" --data "$W/bad")

fresh; head -c 150 "$D/annotations/SynthA/a2/fixMap_00007.mat" > "$W/bad/annotations/SynthA/a2/fixMap_00007.mat"
expect_error "truncated .mat" 1 "SynthA/a2/fixMap_00007.mat" "${E[@]}" --db SynthA
fresh; printf 'MATLAB 5.0 MAT-file garbage' > "$W/bad/annotations/SynthA/a1/fixMap_00003.mat"
expect_error "corrupt .mat" 1 "SynthA/a1/fixMap_00003.mat" "${E[@]}" --db SynthA
fresh; rm "$W/bad/annotations/SynthB/b1/maps/eyeMap_00004.jpg"
expect_error "missing dense map" 1 "SynthB/b1/maps/eyeMap_00004.jpg" "${E[@]}" --db SynthB
"${E[@]}" --db SynthB --skip-missing --json "$W/skip.json" > /dev/null 2> "$W/stderr"
if [ $? -eq 0 ] && grep -q "warning: skipping frame: .*SynthB/b1/maps/eyeMap_00004.jpg" "$W/stderr" \
   && $PY -c 'import json,sys; v=json.load(open(sys.argv[1]))["splits"][0]["videos"][0]; sys.exit(not (v["evaluated"]==15 and v["skipped"]==1))' "$W/skip.json"; then
  ok "missing dense map with --skip-missing: $(cat "$W/stderr")"
else
  bad "missing dense map with --skip-missing"; cat "$W/stderr"
fi
fresh; rm "$W/bad/annotations/SynthA/a3/fixMap_00020.mat"
expect_error "missing fixation map" 1 "SynthA/a3/fixMap_00020.mat" "${E[@]}" --db SynthA --split 3
fresh; rm "$W/bad/pred_gt/SynthA/a1/img_00011.png"
expect_error "missing prediction" 1 "pred_gt/SynthA/a1/img_00011.png" "${E[@]}" --db SynthA --split 1
fresh; $PY -c 'from PIL import Image; Image.new("L", (40, 30), 9).save("'"$W"'/bad/annotations/SynthA/a2/maps/eyeMap_00002.jpg")' 2>/dev/null \
  || cp "$D/pred_gt/SynthB/b1/img_00001.png" "$W/bad/annotations/SynthA/a2/maps/eyeMap_00002.jpg"
if $PY -c 'import PIL' 2>/dev/null; then
  expect_error "dense map size mismatch" 1 "SynthA/a2/maps/eyeMap_00002.jpg.*30x40.*fixMap_00002.mat.*48x64" "${E[@]}" --db SynthA --split 2
fi
fresh; printf 'a1 20\n' > "$W/bad/fold_lists/SynthA_list_test_1_fps.txt"
expect_error "bad fold-list line" 1 "SynthA_list_test_1_fps.txt:1" "${E[@]}" --db SynthA --split 1
expect_error "unknown dataset" 1 "NoSuchDB" "${E[@]}" --db NoSuchDB
expect_error "split out of range" 2 "split" "${E[@]}" --db SynthA --split 4
expect_error "bad --frames" 2 "frames" "${E[@]}" --db SynthA --frames some
expect_error "missing --db" 2 "required" "$BIN" eval --pred "$D/pred_gt" --data "$D"

finish test_eval
