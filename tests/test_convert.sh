#!/bin/bash
# CTest: weights/convert.py on synthetic S3D, VGGish and reference checkpoints, then `caspnet info` on a converted file.
# Usage: bash tests/test_convert.sh <caspnet-binary> <source-dir> <build-dir>
set -u
CASPNET=${1:?caspnet binary}
SRC=${2:?source dir}
BUILD=${3:?build dir}
. "$(dirname "$0")/testlib.sh"
# convert.py is an optional tool: without torch there is nothing to test, and
# the engine's own tests do not depend on it.
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "SKIP: $PY lacks torch; weights/convert.py not tested"
    exit 0
fi
T=$(mktemp -d "$BUILD/convert-test.XXXXXX") || exit 1
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W" "$T"' EXIT # testlib's W and this test's T
CONV=("$PY" "$SRC/weights/convert.py")
export CN_REF_DIR="$SRC/tests/torch_reference" CN_T="$T"
SECONDS=0
failures=0
# fail MESSAGE: testlib's bad, counted for the summary line
fail() {
    bad "$*"
    failures=$((failures + 1))
}

# run NAME WANT_RC [GREP_PATTERN] -- CMD...: runs CMD, logging to $T/NAME.log,
# and checks the exit status (0, or "nz" for any failure) and the output.
run() {
    local name=$1 want=$2 pat=$3
    shift 4
    "$@" >"$T/$name.log" 2>&1
    local rc=$?
    local bad=0
    if [ "$want" = nz ]; then
        [ $rc -eq 0 ] && bad=1
    else
        [ $rc -ne "$want" ] && bad=1
    fi
    if [ $bad -eq 1 ]; then
        fail "$name: exit $rc, want $want"
        sed 's/^/    /' "$T/$name.log" | tail -20
        return
    fi
    if [ -n "$pat" ] && ! grep -qE -- "$pat" "$T/$name.log"; then
        fail "$name: output lacks /$pat/"
        sed 's/^/    /' "$T/$name.log" | tail -20
        return
    fi
    ok "$name"
}

# Checks an output file in Python: check NAME OUT -- python statements using
# `out`, `meta`, `src(name)` (a saved fake state dict) and `spec`.
check() {
    local name=$1 out=$2
    shift 3
    if "$PY" - "$out" "$@" >"$T/$name.log" 2>&1 <<'EOF'; then ok "$name"; else fail "$name"; sed 's/^/    /' "$T/$name.log" | tail -20; fi
import os, sys
sys.path.insert(0, os.environ["CN_REF_DIR"])
import torch, caspnet_ref as R, st_io
out, meta = st_io.load(sys.argv[1])
def src(n):
    return torch.load(os.path.join(os.environ["CN_T"], n), map_location="cpu")
def bf16(x):  # the value BF16 storage keeps: round to nearest even
    return x.to(torch.bfloat16).float()
spec = dict(R.spec_keys(meta["variant"]))
assert list(out) == [k for k, _ in R.spec_keys(meta["variant"])], "keys or order differ from spec_keys"
for k, v in out.items():
    assert tuple(v.shape) == spec[k], k
exec(sys.argv[2])
print("checked")
EOF
}

# ---- synthetic checkpoints -------------------------------------------------
"$PY" - <<'EOF' || { echo "FAIL: could not build synthetic checkpoints"; exit 1; }
import collections, os, sys
sys.path.insert(0, os.environ["CN_REF_DIR"])
import torch, caspnet_ref as R
T = os.environ["CN_T"]
g = torch.Generator().manual_seed(1)
def rnd(shape):
    return torch.randn(shape, generator=g) * 0.1
spec_av = R.spec_keys("av")
# Fake public S3D: base.* keys with the spec's shapes, the Kinetics classifier,
# num_batches_tracked on every BatchNorm, saved as DataParallel does, under
# 'state_dict' beside other training state.
s3d = collections.OrderedDict()
for k, s in spec_av:
    if k.startswith("video.base."):
        s3d["module." + k[len("video."):]] = rnd(s)
        if k.endswith(".running_var"):
            s3d["module." + k[len("video."):-len("running_var")] + "num_batches_tracked"] = torch.tensor(7)
s3d["module.fc.0.weight"] = rnd((400, 1024, 1, 1, 1))
s3d["module.fc.0.bias"] = rnd((400,))
torch.save({"epoch": 3, "state_dict": s3d}, os.path.join(T, "s3d.pt"))
bad = collections.OrderedDict((k[len("module."):], v) for k, v in s3d.items())
bad["base.9.branch1.1.conv_t.weight"] = rnd((224, 224, 3, 1, 2))
torch.save(bad, os.path.join(T, "s3d_badshape.pt"))
# Fake PyTorch VGGish: features.* / embeddings.* plus the PCA post-processor.
vgg = collections.OrderedDict((k[len("audio."):], rnd(s)) for k, s in spec_av if k.startswith("audio."))
vgg["pproc._pca_matrix"] = rnd((128, 128))
vgg["pproc._pca_means"] = rnd((128, 1))
torch.save(vgg, os.path.join(T, "vggish.pth"))
# The reference model's own (PyTorch default-initialised) state dict, variant v.
torch.manual_seed(2)
ref = R.CASPNet("v").state_dict()
assert [(k, tuple(v.shape)) for k, v in ref.items()] and set(ref) == {k for k, _ in R.spec_keys("v")}
torch.save(collections.OrderedDict(("module." + k, v) for k, v in ref.items()), os.path.join(T, "ref_v.pt"))
# The same with an av-only key: must be refused for variant v.
extra = collections.OrderedDict(ref)
extra["cpc.phi1.bias"] = torch.zeros(256)
torch.save(extra, os.path.join(T, "ref_v_extra.pt"))
with open(os.path.join(T, "garbage.pt"), "w") as f:
    f.write("not a checkpoint\n")
EOF
echo "synthetic checkpoints: ${SECONDS}s"

# ---- cases -----------------------------------------------------------------
run help 0 'UNTRAINED' -- "${CONV[@]}" --help
run no-source nz 'at least one' -- "${CONV[@]}" --out "$T/x.safetensors" --variant v

# S3D alone is incomplete for any variant: refused, missing keys listed by module.
run s3d-incomplete nz 'refusing' -- "${CONV[@]}" --out "$T/inc.safetensors" --variant v --s3d "$T/s3d.pt"
grep -qE '^  avim\.1: 30 keys \(aspp\.b0, ' "$T/s3d-incomplete.log" && grep -qE '^  dec: 106 keys' "$T/s3d-incomplete.log" ||
    fail "s3d-incomplete: missing keys not grouped by module"
grep -qE '^  video' "$T/s3d-incomplete.log" && fail "s3d-incomplete: video reported missing"
[ -e "$T/inc.safetensors" ] && fail "s3d-incomplete: wrote a file anyway"

run s3d-fill 0 'UNTRAINED' -- "${CONV[@]}" --out "$T/s3d_v.safetensors" --variant v --s3d "$T/s3d.pt" --fill zeros
grep -q 'ignored (' "$T/s3d-fill.log" || fail "s3d-fill: fc / num_batches_tracked not reported as ignored"
check s3d-fill-values "$T/s3d_v.safetensors" -- '
sd = src("s3d.pt")["state_dict"]
assert meta == {"format": "caspnet", "version": "1", "variant": "v"}, meta
for k, v in out.items():
    if k.startswith("video."):
        assert torch.equal(v, sd["module." + k[6:]]), k
    elif k.endswith((".bn.weight", ".bn.running_var")):
        assert torch.all(v == 1), k
    else:
        assert torch.all(v == 0), k
'

run s3d-badshape nz "base\.9\.branch1\.1\.conv_t\.weight' has shape \[224, 224, 3, 1, 2\]" -- \
    "${CONV[@]}" --out "$T/bad.safetensors" --variant v --s3d "$T/s3d_badshape.pt" --fill zeros
run vggish-v nz 'no audio encoder' -- "${CONV[@]}" --out "$T/bad.safetensors" --variant v --vggish "$T/vggish.pth"
run full-extra nz "unexpected key 'cpc\.phi1\.bias' \(an av-only key" -- \
    "${CONV[@]}" --out "$T/bad.safetensors" --variant v --full "$T/ref_v_extra.pt"
run garbage nz 'garbage\.pt: cannot load checkpoint' -- "${CONV[@]}" --out "$T/bad.safetensors" --variant v --s3d "$T/garbage.pt"
if grep -q Traceback "$T"/*.log; then fail "a refused input ended in a Python traceback"; fi
[ -e "$T/bad.safetensors" ] && fail "a refused conversion wrote its output"

# The reference's own state dict converts as is (module. stripped), exactly in F32.
run full 0 'complete' -- "${CONV[@]}" --out "$T/ref_v.safetensors" --variant v --full "$T/ref_v.pt"
check full-values "$T/ref_v.safetensors" -- '
sd = src("ref_v.pt")
for k, v in out.items():
    assert torch.equal(v, sd["module." + k]), k
R.load_model(sys.argv[1])  # the reference itself accepts the file
'
run full-f16 0 'F16' -- "${CONV[@]}" --out "$T/ref_v16.safetensors" --variant v --full "$T/ref_v.pt" --dtype F16
check full-f16-values "$T/ref_v16.safetensors" -- '
sd = src("ref_v.pt")
for k, v in out.items():
    assert torch.equal(v, sd["module." + k].half().float()), k
'

# Overrides follow command-line order and each is reported.
nvideo=$("$PY" -c "import sys; sys.path.insert(0, '$SRC/tests/torch_reference'); import caspnet_ref as R; print(sum(k.startswith('video.') for k, _ in R.spec_keys('v')))")
run s3d-then-full 0 'complete' -- "${CONV[@]}" --out "$T/o1.safetensors" --variant v --s3d "$T/s3d.pt" --full "$T/ref_v.pt"
n=$(grep -c '^  override: video\.' "$T/s3d-then-full.log")
[ "$n" = "$nvideo" ] || fail "s3d-then-full: $n override lines, want $nvideo"
check s3d-then-full-values "$T/o1.safetensors" -- '
sd = src("ref_v.pt")
assert all(torch.equal(v, sd["module." + k]) for k, v in out.items())
'
run full-then-s3d 0 "$nvideo tensors overridden" -- "${CONV[@]}" --out "$T/o2.safetensors" --variant v --full "$T/ref_v.pt" --s3d "$T/s3d.pt"
check full-then-s3d-values "$T/o2.safetensors" -- '
ref, s3d = src("ref_v.pt"), src("s3d.pt")["state_dict"]
for k, v in out.items():
    want = s3d["module." + k[6:]] if k.startswith("video.") else ref["module." + k]
    assert torch.equal(v, want), k
'

# --fill random: deterministic per seed, He-normal scale, BatchNorm as identity.
run fill-s3 0 'UNTRAINED' -- "${CONV[@]}" --out "$T/r3.safetensors" --variant v --fill random --seed 3
run fill-s3b 0 'UNTRAINED' -- "${CONV[@]}" --out "$T/r3b.safetensors" --variant v --fill random --seed 3
run fill-s4 0 'UNTRAINED' -- "${CONV[@]}" --out "$T/r4.safetensors" --variant v --fill random --seed 4
cmp -s "$T/r3.safetensors" "$T/r3b.safetensors" || fail "fill random: same seed gave different files"
cmp -s "$T/r3.safetensors" "$T/r4.safetensors" && fail "fill random: different seeds gave the same file"
check fill-random-values "$T/r3.safetensors" -- '
import math
w = out["avim.4.aspp.b1.conv.weight"]          # 64 x 1024 x 1 x 3 x 3: fan_in 9216
assert abs(w.std().item() / math.sqrt(2 / 9216) - 1) < 0.02, w.std()
assert torch.all(out["dec.1.gen.conv.bias"] == 0)
assert torch.all(out["video.base.0.bn_s.running_var"] == 1) and torch.all(out["video.base.0.bn_s.running_mean"] == 0)
'
rm -f "$T/r3b.safetensors" "$T/r4.safetensors" "$T/o1.safetensors" "$T/o2.safetensors" "$T/ref_v16.safetensors"

# The full av model once, from both public backbones, in BF16.
run av 0 'UNTRAINED' -- "${CONV[@]}" --out "$T/av.safetensors" --variant av --s3d "$T/s3d.pt" --vggish "$T/vggish.pth" --fill random --dtype BF16
grep -q 'pproc._pca_matrix' "$T/av.log" || fail "av: PCA keys not reported as ignored"
grep -qE '^  (video|audio)' "$T/av.log" && fail "av: a backbone reported missing"
check av-values "$T/av.safetensors" -- '
s3d, vgg = src("s3d.pt")["state_dict"], src("vggish.pth")
assert meta["variant"] == "av"
for k, v in out.items():
    if k.startswith("video."):
        assert torch.equal(v, bf16(s3d["module." + k[6:]])), k
    elif k.startswith("audio."):
        assert torch.equal(v, bf16(vgg[k[6:]])), k
assert out["cpc.phi1.weight"].abs().sum() > 0
'
rm -f "$T/av.safetensors" "$T/vggish.pth"

# The engine accepts a converted file: info validates it (the tensor-count
# line and the parameter table come only after a successful load), then
# folds and uploads it to the device. Either failing is reported separately,
# so a fault in info's later steps is not mistaken for a converter fault.
"$CASPNET" info "$T/ref_v.safetensors" >"$T/info.log" 2>&1
rc=$?
if grep -q 'variant v, 611 tensors' "$T/info.log" && grep -qE '^total +14178273 +36064' "$T/info.log"; then
    ok "caspnet-info-validates"
else
    fail "caspnet info did not accept the converted file"
fi
if [ $rc -eq 0 ]; then
    ok "caspnet-info"
else
    fail "caspnet info exited $rc after validating the file (an engine fault past weight loading, not convert.py)"
fi
sed 's/^/    /' "$T/info.log"

echo "test_convert: ${SECONDS}s, $failures failure(s)"
finish test_convert
