#!/usr/bin/python3
"""Times caspnet against the real CPU anchors in one run: ONNX Runtime, OpenVINO, PyTorch, and GEMM against OpenBLAS.

  /usr/bin/python3 bench/anchors.py [--caspnet BIN] [--bench-gemm BIN] [--weights W] [--size HxW]
      [--threads N] [--reps N] [--rounds R] [--gemm-runs N] [--devices 0,1] [--skip ENGINES] [--work DIR]
      [--venv DIR] [--json FILE]

Set-up once: `bash bench/setup-anchors.sh` (ONNX Runtime, OpenVINO, NumPy with OpenBLAS,
threadpoolctl in .deps/bench-venv) and a Release build with the bench programs
(`cmake --build build`). The test suite needs none of this.

One run, in this order, on the same weights file, clip size and thread count:
  1. caspnet bench (batch 1, --reps N after a warm-up) on each OpenCL device, one process
     per device; Intel's OpenCL CPU runtime is made visible as cmake/ocl-env.sh does.
  2. ONNX Runtime, CPU execution provider, and 3. OpenVINO, CPU, f32, both on the reference
     model exported to ONNX by bench/anchors_export.py (broadcast-key closed form, so the
     FLOPs are the engine's), each checked against the PyTorch reference's float32 map
     (max abs error <= --tol, default 2.5e-4: test_parity's bound for our own map at
     224 x 384) before it is timed; a failed check stops the run.
  4. Debian's PyTorch 1.13 running the reference as shipped (bench/pytorch_baseline.py).
  5. GEMM at 1024^3: bench/bench_gemm (own kernels) on each device and the OpenBLAS sgemm of
     the venv's NumPy, so "our GEMM / OpenBLAS" is read off the same run.
Each engine gets one warm-up and N timed runs (median, min, max); with --rounds R the whole
sequence runs R times, interleaved, and each engine's figure is the median of its R medians
(on a shared machine that spreads a burst of load over all engines); the table gives
seconds per clip, GFLOP/s on one count (the engine's own GFLOP per clip, as `caspnet info`
prints it: the other engines do the same convolutions, PyTorch more in its literal
attention) and, per OpenCL device of ours, ours / this engine (above 1: ours is slower).

Threads, set explicitly for every engine (--threads, default 2): POCL_MAX_PTHREAD_COUNT and
POCL_CPU_MAX_CU_COUNT (PoCL), CL_CONFIG_CPU_TBB_NUM_WORKERS and DPCPP_CPU_NUM_CUS (Intel's
runtime), ONNX Runtime intra-op threads, OpenVINO INFERENCE_NUM_THREADS, torch.set_num_threads,
threadpoolctl for OpenBLAS. Without --weights the weights are `caspnet init-weights --seed 0`
calibrated on one synthetic clip of the bench size, written once to the work folder
(default build/anchors, also the cache of the export and the per-engine logs and JSON).
--skip takes a comma list of: ours, ort, openvino, pytorch, gemm.
Then a table per layer group (caspnet bench's groups: S3D stages, VGGish, each ASPP and
attention, CPC, each decoder block) of every engine's profiled time and ours / ONNX Runtime
and ours / OpenVINO per group; ONNX Runtime and OpenVINO get one extra profiled run for it
in the last round, grouped by the module path in their node names (--no-groups: none).
The 1-minute load average is printed before and after each engine: on a shared machine
the numbers are only as good as it was quiet.
"""
import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENGINES = ("ours", "ort", "openvino", "pytorch", "gemm")


class Failure(Exception):
    pass


def cpu_info():
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name":
                    model = v.strip()
                elif k == "flags":
                    flags = set(v.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
              "amx_tile", "amx_bf16", "amx_int8")
    ext = [f for f in wanted if f in flags]
    kind = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return {"model": model, "cores": os.cpu_count(), "kind": kind, "extensions": ext,
            "hypervisor": "hypervisor" in flags}


def load1():
    return round(os.getloadavg()[0], 2)


def run_logged(cmd, log, env=None, echo=True):
    """Runs cmd, its stdout + stderr to log (and, with echo, to our stdout line by line)."""
    print(f"$ {' '.join(shlex.quote(c) for c in cmd)}", flush=True)
    with open(log, "w") as lf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env, cwd=ROOT)
        for line in p.stdout:
            lf.write(line)
            if echo:
                sys.stdout.write("  " + line)
                sys.stdout.flush()
        rc = p.wait()
    if rc != 0:
        raise Failure(f"{cmd[0]} exited with {rc} (log: {log})")


def ocl_env(threads):
    env = dict(os.environ)
    vendors = os.path.join(ROOT, ".deps", "intel-ocl", "vendors")
    if "OCL_ICD_VENDORS" not in env and os.path.isfile(os.path.join(vendors, "intel-cpu.icd")):
        env["OCL_ICD_VENDORS"] = vendors   # what cmake/ocl-env.sh does
    t = str(threads)
    env.update(POCL_MAX_PTHREAD_COUNT=t, POCL_CPU_MAX_CU_COUNT=t, CL_CONFIG_CPU_TBB_NUM_WORKERS=t,
               DPCPP_CPU_NUM_CUS=t)
    return env


def list_devices(caspnet, env):
    out = subprocess.run([caspnet, "devices"], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise Failure(f"caspnet devices failed: {out.stderr.strip()}")
    devs, platform_name = [], "?"
    for line in out.stdout.splitlines():
        m = re.match(r"platform: (.*)", line)
        if m:
            platform_name = m.group(1).strip()
        m = re.match(r"\s+\[(\d+)\] (.*)", line)
        if m:
            devs.append({"index": int(m.group(1)), "name": m.group(2).strip(), "platform": platform_name})
    return devs


def short_platform(name):
    return {"Portable Computing Language": "PoCL", "Intel(R) OpenCL": "Intel CPU runtime"}.get(name, name)


def ensure_weights(a, caspnet, env):
    if a.weights:
        if not os.access(a.weights, os.R_OK):
            raise Failure(f"cannot read weights '{a.weights}'")
        return os.path.abspath(a.weights)
    H, W = a.size
    path = os.path.join(a.work, f"weights-seed0-{H}x{W}.safetensors")
    if not os.path.exists(path):
        print(f"# weights: caspnet init-weights, calibrated on one synthetic {H}x{W} clip -> {path}")
        run_logged([caspnet, "init-weights", "--seed", "0", "--calib-size", f"{H}x{W}", "--calib-clips", "1",
                    path], os.path.join(a.work, "init-weights.log"), env)
    return path


def sha256(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ensure_export(a, weights):
    """The ONNX export of the reference for these weights and size, made once and reused
    while the weights, the size and bench/anchors_export.py are unchanged."""
    H, W = a.size
    wsha = sha256(weights)
    d = os.path.join(a.work, f"onnx-{H}x{W}-{wsha[:12]}")
    script = os.path.join(HERE, "anchors_export.py")
    try:
        with open(os.path.join(d, "export.json")) as f:
            meta = json.load(f)
        if meta["weights_sha256"] == wsha and meta["script_sha256"] == sha256(script):
            print(f"# ONNX export: {d} (cached; closed form vs literal reference {meta['closed_vs_literal_max_abs']:.1e})")
            return d, meta
    except (OSError, ValueError, KeyError):
        pass
    run_logged(["/usr/bin/python3", script, "--weights", weights, "--out-dir", d, "--size", f"{H}x{W}",
                "--threads", str(a.threads)], os.path.join(a.work, "export.log"))
    with open(os.path.join(d, "export.json")) as f:
        return d, json.load(f)


def stats(doc):
    return {k: doc[k] for k in ("seconds_median", "seconds_min", "seconds_max")}


def parse_info_gflop(caspnet, weights, size, env):
    out = subprocess.run([caspnet, "info", "--height", str(size[0]), "--width", str(size[1]), weights],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    m = re.search(r"GFLOP per 16 x \d+ x \d+ clip: ([0-9.]+)", out.stdout)
    if not m:
        raise Failure(f"cannot read the GFLOP per clip from caspnet info: {out.stdout[-300:]}{out.stderr[-300:]}")
    return float(m.group(1))


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def combine(kind, rounds):
    """One entry per engine: the median of the rounds' medians (min and max over all runs),
    the load range seen around its runs, and every round kept."""
    e = {k: v for k, v in rounds[0].items() if k not in ("log", "load_before", "load_after")}
    e["kind"] = kind
    loads = [x for r in rounds for x in (r["load_before"], r["load_after"])]
    e["load_min"], e["load_max"] = min(loads), max(loads)
    if kind == "gemm":
        e["gflops_median"] = median([r["gflops_median"] for r in rounds])
        if "gflops_best" in e:
            e["gflops_best"] = max(r["gflops_best"] for r in rounds)
    else:
        e["seconds_median"] = median([r["seconds_median"] for r in rounds])
        e["seconds_min"] = min(r["seconds_min"] for r in rounds)
        e["seconds_max"] = max(r["seconds_max"] for r in rounds)
        # per layer group: the median over the rounds that timed groups
        per = [r["groups"] for r in rounds if r.get("groups")]
        e["groups"] = {g: median([p.get(g, 0.0) for p in per]) for g in per[0]} if per else None
    e["rounds"] = rounds
    return e


def paths(a, tag):
    return os.path.join(a.work, tag + ".json"), os.path.join(a.work, "logs", tag + ".log")


def run_ours(a, caspnet, weights, d, tag, env):
    out, log = paths(a, tag)
    H, W = a.size
    cmd = [caspnet, "bench", "--device", str(d["index"]), "--weights", weights, "--size", f"{H}x{W}",
           "--reps", str(a.reps), "--batches", "1", "--json", out]
    if has_option(caspnet, "bench", "--precision"):
        cmd += ["--precision", "fp32"]   # the anchors are all float32 (bench's default adds fp16)
    run_logged(cmd, log, env)
    with open(out) as f:
        res = json.load(f)["devices"][0]
    if res.get("precision", "fp32") != "fp32":
        raise Failure(f"caspnet bench ran {res['precision']}, not fp32 (log: {log})")
    return {"name": f"caspnet, {short_platform(d['platform'])} [{d['index']}]", **stats(res),
            "device": res["device"], "index": d["index"], "gemm_ceiling_gflops": res["gemm_gflops"],
            "gflop_counted": sum(g["gflop"] for g in res["groups"]),
            "groups": {g["name"]: g["seconds"] for g in res["groups"]},
            "group_gflop": {g["name"]: g["gflop"] for g in res["groups"]}, "log": log}


def has_option(binary, command, option):
    out = subprocess.run([binary, command, "--help"], capture_output=True, text=True)
    return option in out.stdout + out.stderr


def run_venv_model(a, vpy, eng, export, tag, groups):
    out, log = paths(a, tag)
    run_logged([vpy, os.path.join(HERE, "anchors_run.py"), eng, "--dir", export, "--threads", str(a.threads),
                "--reps", str(a.reps), "--tol", str(a.tol), "--json", out] + (["--groups"] if groups else []), log)
    with open(out) as f:
        res = json.load(f)
    return {"name": f"{res['engine']}, CPU" + (", f32" if eng == "openvino" else ""), **stats(res),
            "settings": res["settings"], "max_abs_err": res["max_abs_err"], "groups": res.get("groups"),
            "log": log}


def run_pytorch(a, weights, tag):
    out, log = paths(a, tag)
    H, W = a.size
    run_logged(["/usr/bin/python3", os.path.join(HERE, "pytorch_baseline.py"), "--weights", weights,
                "--size", f"{H}x{W}", "--reps", str(a.reps), "--threads", str(a.threads), "--json", out],
               log, echo=False)
    with open(out) as f:
        res = json.load(f)
    return {"name": f"PyTorch {res['torch_version']} (Debian), reference as shipped", **stats(res),
            "omp_wait_policy": res["omp_wait_policy"],
            "groups": {**{g["name"]: g["seconds"] for g in res["groups"]}, "(other)": res["other_seconds"]},
            "log": log}


def run_gemm(a, bench_gemm, d, tag, env):
    _, log = paths(a, tag)
    run_logged([bench_gemm, "--device", str(d["index"]), "--size", "1024x1024x1024:NN", "--backend", "own",
                "--runs", str(a.gemm_runs)], log, env)
    with open(log) as f:
        m = re.search(r"1024x1024x1024:NN\s+own\s+([0-9.]+) ms\s+([0-9.]+) GFLOP/s", f.read())
    if not m:
        raise Failure(f"cannot read bench_gemm's 1024^3 line in {log}")
    return {"name": f"caspnet GEMM, {short_platform(d['platform'])} [{d['index']}]",
            "gflops_median": float(m.group(2)), "log": log}


def run_openblas(a, vpy, tag):
    out, log = paths(a, tag)
    run_logged([vpy, os.path.join(HERE, "anchors_run.py"), "openblas", "--threads", str(a.threads),
                "--reps", str(a.gemm_runs), "--json", out], log)
    with open(out) as f:
        res = json.load(f)
    lib = res["library"][0] if res["library"] else {}
    version = ".".join(str(lib.get("version", "?")).split(".")[:3])
    numpy = res["engine"].split("(")[-1].rstrip(")")
    return {"name": f"OpenBLAS {version} sgemm, {lib.get('architecture', '?')} kernels, "
                    f"{lib.get('num_threads', '?')} threads ({numpy})",
            "gflops_median": res["gflops_median"], "gflops_best": res["gflops_best"], "openblas": True,
            "library": res["library"], "log": log}


def parse_size(s):
    try:
        h, w = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size '{s}' is not HxW")
    if h < 32 or w < 32 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"--size '{s}': H and W must be positive multiples of 32")
    return h, w


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--caspnet", help="the caspnet binary ($CASPNET, else build/caspnet)")
    p.add_argument("--bench-gemm", help="bench_gemm (default: bench/bench_gemm beside the caspnet binary)")
    p.add_argument("--weights", help="a caspnet av .safetensors file (default: made by caspnet init-weights)")
    p.add_argument("--size", type=parse_size, default=(224, 384), help="HxW of the clip (224x384)")
    p.add_argument("--threads", type=int, default=2, help="threads of every engine (2)")
    p.add_argument("--reps", type=int, default=5, help="timed runs per engine after a warm-up (5)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every engine this many times in turn (interleaved) and take the median "
                        "of the rounds' medians (1)")
    p.add_argument("--gemm-runs", type=int, default=11, help="timed 1024^3 products per GEMM (11)")
    p.add_argument("--tol", type=float, default=2.5e-4,
                   help="max abs map error of ONNX Runtime / OpenVINO vs the reference (2.5e-4)")
    p.add_argument("--devices", help="comma list of caspnet device indices (default: every device)")
    p.add_argument("--skip", default="", help=f"comma list of engines not to run: {', '.join(ENGINES)}")
    p.add_argument("--work", default=os.path.join(ROOT, "build", "anchors"),
                   help="cache and log folder (build/anchors)")
    p.add_argument("--venv", default=os.path.join(ROOT, ".deps", "bench-venv"),
                   help="the venv of bench/setup-anchors.sh (.deps/bench-venv)")
    p.add_argument("--no-groups", dest="groups", action="store_false",
                   help="no per-layer-group table (ONNX Runtime and OpenVINO are then not profiled)")
    p.add_argument("--json", help="write every result here")
    a = p.parse_args(argv)
    skip = {s for s in a.skip.split(",") if s}
    if skip - set(ENGINES):
        p.error(f"--skip: unknown {sorted(skip - set(ENGINES))} (known: {', '.join(ENGINES)})")
    if a.threads < 1 or a.reps < 1 or a.gemm_runs < 1 or a.rounds < 1:
        p.error("--threads, --reps, --rounds and --gemm-runs must be positive")
    caspnet = a.caspnet or os.environ.get("CASPNET") or os.path.join(ROOT, "build", "caspnet")
    bench_gemm = a.bench_gemm or os.path.join(os.path.dirname(os.path.abspath(caspnet)), "bench", "bench_gemm")
    vpy = os.path.join(a.venv, "bin", "python")
    problems = []
    if not os.access(caspnet, os.X_OK):
        problems.append(f"no caspnet binary at {caspnet} (build it, or give --caspnet)")
    if "gemm" not in skip and not os.access(bench_gemm, os.X_OK):
        problems.append(f"no bench_gemm at {bench_gemm} (cmake --build build, or give --bench-gemm)")
    if {"ort", "openvino", "gemm"} - skip and not os.access(vpy, os.X_OK):
        problems.append(f"no venv at {a.venv}: run bash bench/setup-anchors.sh")
    if problems:
        for msg in problems:
            print(f"anchors: error: {msg}", file=sys.stderr)
        return 2
    os.makedirs(a.work, exist_ok=True)
    logs = os.path.join(a.work, "logs")
    os.makedirs(logs, exist_ok=True)
    H, W = a.size
    env = ocl_env(a.threads)
    cpu = cpu_info()
    try:
        devices = list_devices(caspnet, env)
        if a.devices:
            want = {int(i) for i in a.devices.split(",")}
            devices = [d for d in devices if d["index"] in want]
        doc = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cpu": cpu,
               "host": platform.node(), "threads": a.threads, "reps": a.reps, "height": H, "width": W,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"), "engines": [], "gemm": []}
        print(f"# {doc['date_utc']} UTC; CPU: {cpu['model']}, {cpu['cores']} cores, {cpu['kind']} "
              f"({' '.join(cpu['extensions'])}){', virtual machine' if cpu['hypervisor'] else ''}")
        print(f"# clip 16 x {H} x {W}, batch 1; {a.threads} threads per engine; warm-up + median of {a.reps}; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        weights = ensure_weights(a, caspnet, env)
        doc["weights"] = weights
        gflop = parse_info_gflop(caspnet, weights, a.size, env)
        doc["gflop_per_clip"] = gflop
        print(f"# weights {weights}; {gflop:.1f} GFLOP per clip (caspnet info: the engine's count)")
        export = None
        if {"ort", "openvino"} - skip:
            export, emeta = ensure_export(a, weights)
            doc["export"] = emeta

        jobs = []   # (key, kind, run(tag) -> result dict), run once per round in this order
        if "ours" not in skip:
            for d in devices:
                jobs.append((f"ours-dev{d['index']}", "ours", lambda tag, r, d=d: run_ours(a, caspnet, weights, d, tag, env)))
        for eng in ("ort", "openvino"):
            if eng not in skip:
                jobs.append((eng, eng, lambda tag, r, eng=eng: run_venv_model(a, vpy, eng, export, tag,
                                                                               a.groups and r == a.rounds - 1)))
        if "pytorch" not in skip:
            jobs.append(("pytorch", "pytorch", lambda tag, r: run_pytorch(a, weights, tag)))
        if "gemm" not in skip:
            for d in devices:
                jobs.append((f"gemm-dev{d['index']}", "gemm", lambda tag, r, d=d: run_gemm(a, bench_gemm, d, tag, env)))
            jobs.append(("openblas", "gemm", lambda tag, r: run_openblas(a, vpy, tag)))
        results = {key: [] for key, _, _ in jobs}
        for r in range(a.rounds):
            if a.rounds > 1:
                print(f"# round {r + 1} of {a.rounds}")
            for key, _, fn in jobs:
                before = load1()
                res = fn(key if a.rounds == 1 else f"{key}-r{r + 1}", r)
                res.update(load_before=before, load_after=load1())
                results[key].append(res)
        for key, kind, _ in jobs:
            doc["gemm" if kind == "gemm" else "engines"].append(combine(kind, results[key]))
    except Failure as e:
        print(f"anchors: error: {e}", file=sys.stderr)
        return 1
    report(doc)
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, a.json)
    return 0


def report(doc):
    gflop = doc["gflop_per_clip"]
    ours = [e for e in doc["engines"] if e["kind"] == "ours"]
    for e in doc["engines"]:
        e["gflops"] = gflop / e["seconds_median"]
        e["ours_over_this"] = {o["name"]: o["seconds_median"] / e["seconds_median"] for o in ours}
    cpu = doc["cpu"]
    print()
    print(f"CPU: {cpu['model']}, {cpu['cores']} cores, {cpu['kind']} ({' '.join(cpu['extensions'])}); "
          f"{doc['threads']} threads per engine; clip 16 x {doc['height']} x {doc['width']}, batch 1; "
          f"{gflop:.1f} GFLOP per clip for every engine; median of {doc['reps']} runs after a warm-up")
    heads = [f"ours [{o['index']}] / it" for o in ours]
    print(f"{'engine':<52} {'s/clip':>7} {'min-max':>13} {'GFLOP/s':>8} " + " ".join(f"{h:>13}" for h in heads)
          + f" {'load':>10}")
    for e in doc["engines"]:
        rng = f"{e['seconds_min']:.2f}-{e['seconds_max']:.2f}"
        ratios = " ".join(f"{e['ours_over_this'][o['name']]:13.2f}" for o in ours)
        print(f"{e['name'][:52]:<52} {e['seconds_median']:7.3f} {rng:>13} {e['gflops']:8.1f} {ratios} "
              f"{e['load_min']:4.1f}-{e['load_max']:<4.1f}")
    if ours:
        print("ours [i] / it: our time on device i over this engine's (above 1: ours is slower); "
              "load: the 1-minute load average before and after its runs (lowest-highest)")
        for o in ours:
            print(f"  [{o['index']}] {o['device']}: GEMM ceiling {o['gemm_ceiling_gflops']:.1f} GFLOP/s "
                  f"(caspnet bench, best of 5)")
    if any(e["kind"] == "pytorch" for e in doc["engines"]):
        print("PyTorch runs the reference as shipped (literal attention, more FLOPs); its GFLOP/s is on the same count")
    report_groups(doc, ours)
    if doc["gemm"]:
        blas = [g for g in doc["gemm"] if g.get("openblas")]
        print(f"\n{'GEMM 1024^3 float32':<64} {'GFLOP/s':>8} {'of OpenBLAS':>12} {'load':>10}")
        for g in doc["gemm"]:
            share = f"{100 * g['gflops_median'] / blas[0]['gflops_median']:11.0f}%" if blas else f"{'-':>12}"
            g["of_openblas"] = g["gflops_median"] / blas[0]["gflops_median"] if blas else None
            print(f"{g['name'][:64]:<64} {g['gflops_median']:8.1f} {share} "
                  f"{g['load_min']:4.1f}-{g['load_max']:<4.1f}")
        best = f"; OpenBLAS's best run {blas[0]['gflops_best']:.1f} GFLOP/s" if blas else ""
        print(f"(medians: bench_gemm's OpenCL event time, OpenBLAS's wall time of np.matmul{best})")
    for e in doc["engines"]:
        if "max_abs_err" in e:
            print(f"{e['name']}: max abs map error vs the PyTorch reference {e['max_abs_err']:.1e}; {e['settings']}")



def report_groups(doc, ours):
    """Milliseconds per layer group of every engine that reports them, and ours over
    ONNX Runtime and OpenVINO per group: what still limits us, group by group."""
    eng = [e for e in doc["engines"] if e.get("groups")]
    if not ours or not eng:
        return
    names = list(ours[0]["groups"]) + sorted({g for e in eng for g in e["groups"]} - set(ours[0]["groups"]))
    short = {"ours": lambda e: f"ours[{e['index']}]", "ort": lambda e: "ORT", "openvino": lambda e: "OpenVINO",
             "pytorch": lambda e: "PyTorch"}
    anchors = [e for e in eng if e["kind"] in ("ort", "openvino")]
    pairs = [(o, x) for o in ours for x in anchors]
    heads = [short[e["kind"]](e) + " ms" for e in eng] + [f"{short['ours'](o)}/{short[x['kind']](x)}" for o, x in pairs]
    print(f"\nper layer group (profiled time, not wall: ours OpenCL events, ORT / OpenVINO their profilers in one "
          f"profiled run, PyTorch forward hooks)")
    print(f"{'group':<12} {'GFLOP':>6} " + " ".join(f"{h:>12}" for h in heads))
    gflop = ours[0].get("group_gflop", {})
    tot = {id(e): 0.0 for e in eng}
    for n in names:
        row = []
        for e in eng:
            v = e["groups"].get(n)
            tot[id(e)] += v or 0.0
            row.append(f"{v * 1e3:12.1f}" if v is not None else f"{'-':>12}")
        for o, x in pairs:
            a, b = o["groups"].get(n), x["groups"].get(n)
            row.append(f"{a / b:12.2f}" if a and b else f"{'-':>12}")
        print(f"{n:<12} {gflop.get(n, 0.0):6.2f} " + " ".join(row))
    row = [f"{tot[id(e)] * 1e3:12.1f}" for e in eng]
    row += [f"{tot[id(o)] / tot[id(x)]:12.2f}" if tot[id(x)] else f"{'-':>12}" for o, x in pairs]
    print(f"{'sum':<12} {sum(gflop.values()):6.2f} " + " ".join(row))


if __name__ == "__main__":
    sys.exit(main())
