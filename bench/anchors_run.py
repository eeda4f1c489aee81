"""Times one speed anchor of bench/anchors.py inside .deps/bench-venv: ONNX Runtime, OpenVINO or OpenBLAS.

  .deps/bench-venv/bin/python bench/anchors_run.py ort|openvino --dir DIR [--threads N] [--reps N]
      [--tol E] [--json FILE]
  .deps/bench-venv/bin/python bench/anchors_run.py openblas [--threads N] [--reps N] [--size N] [--json FILE]

ort / openvino: loads DIR/model.onnx (written by bench/anchors_export.py), runs it once on
DIR/clip.npy + DIR/logmel.npy as the warm-up and checks that output against DIR/ref_sal.npy
(the PyTorch reference, float32): a map that is not finite or differs by more than --tol
in any pixel is an error (exit 1) and nothing is timed. The default 2.5e-4 is the bound
tests/test_parity.sh puts on our own map at 224 x 384: there float32 cannot hold 1e-4
(PyTorch's float32 map is 1.27e-4 from its float64 one), and ONNX Runtime measured 1.2e-4. Then --reps timed
runs (default 5); min / median / max seconds per clip. Threads are set explicitly: ONNX
Runtime intra-op N, inter-op 1, sequential execution; OpenVINO INFERENCE_NUM_THREADS N,
one stream, latency hint and INFERENCE_PRECISION_HINT f32 (on a CPU with AVX-512 BF16 or
AMX its default is bf16), read back from the compiled model and checked.

openblas: float32 N x N by N x N products (N = 1024 by default) through NumPy's matmul,
i.e. the OpenBLAS sgemm of the NumPy wheel, limited to --threads by threadpoolctl; one
warm-up, then the median (and best) of --reps runs, with what threadpoolctl says about the
library (version, kernel architecture, threads).

--groups (ort, openvino): after the timed runs, one more session with the engine's own
profiler (ONNX Runtime's profile, OpenVINO's PERF_COUNT), warmed up, and one profiled run
whose node times are summed per layer group of caspnet bench, by the module path in the
node names (OpenVINO: also in the names a fused node replaced); a node without one, made
by the engine (e.g. ONNX Runtime's fused Gelu), counts in the group of the node before it.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time

import numpy as np


# A node's layer group, as caspnet bench and bench/pytorch_baseline.py cut them, from the
# module path the ONNX export gives node names ("/video/base.3/conv_s/Conv"); the
# engines keep it in the names of fused nodes and of the reorders they insert.
GROUP_RE = re.compile(r"/(?:video/base\.(\d+)/|(audio)/|avim\.(\d)/(aspp/)?|(cpc)/|dec\.(\d)/|(Resize|Sigmoid))")
S3D_STAGE = [1] * 4 + [2] * 3 + [3] * 6 + [4] * 3   # video.base 0-3, 4-6, 7-12, 13-15


def group_of(node):
    m = GROUP_RE.search(node)
    if not m:
        return None
    base, audio, avim, aspp, cpc, dec, tail = m.groups()
    if base is not None:
        return f"S3D.{S3D_STAGE[int(base)]}"
    if audio:
        return "VGGish"
    if avim is not None:
        return f"ASPP.{avim}" if aspp else f"attention.{avim}"
    if cpc:
        return "CPC"
    if dec is not None:
        return f"decoder.{dec}"
    return "decoder.1"   # the head's final resize and sigmoid, as in pytorch_baseline.py


def sum_groups(nodes):
    """nodes: (name, seconds) in execution order -> seconds per group. A node whose name
    has no module path (one the engine made, e.g. ONNX Runtime's fused Gelu) counts in
    the group of the node run before it; before any, in "(other)"."""
    groups, g = {}, "(other)"
    for name, seconds in nodes:
        g = group_of(name) or g
        groups[g] = groups.get(g, 0.0) + seconds
    return groups


def ort_groups(model, threads, feeds):
    """Seconds per layer group of one profiled run (after a warm-up), from ONNX Runtime's
    profile: the kernel time of every node in the last model_run."""
    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        sess.run(None, feeds)
        sess.run(None, feeds)
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    run = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"][-1]
    nodes = sorted((e["ts"], e["name"][: -len("_kernel_time")], e["dur"] * 1e-6) for e in events
                   if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
                   and run["ts"] <= e["ts"] <= run["ts"] + run["dur"])
    return sum_groups((name, sec) for _, name, sec in nodes)


def openvino_groups(model, threads, feeds):
    """Seconds per layer group of one profiled run (after a warm-up): OpenVINO's per-node
    performance counters (PERF_COUNT), same settings as the timed runs."""
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": True})
    req = compiled.create_infer_request()
    req.infer(feeds)
    req.infer(feeds)
    # a node the plugin made keeps the ONNX names it replaced in originalLayersNames
    orig = {}
    for op in compiled.get_runtime_model().get_ops():
        rt = op.get_rt_info()
        if "originalLayersNames" in rt:
            orig[op.get_friendly_name()] = rt["originalLayersNames"].astype(str)
    return sum_groups((p.node_name + "," + orig.get(p.node_name, ""), p.real_time.total_seconds())
                      for p in req.get_profiling_info())


def write_json(path, doc):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def ort_session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    settings = {"intra_op_num_threads": threads, "inter_op_num_threads": 1,
                "execution_mode": "sequential", "graph_optimization_level": "all",
                "providers": sess.get_providers()}
    return (lambda feeds: sess.run(None, feeds)[0]), f"ONNX Runtime {ort.__version__}", settings


def openvino_session(model, threads):
    import openvino as ov
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
              "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    compiled = core.compile_model(core.read_model(model), "CPU", config)
    prec = compiled.get_property("INFERENCE_PRECISION_HINT")
    nthreads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
    if prec != ov.Type.f32:
        raise RuntimeError(f"OpenVINO compiled the model with inference precision {prec}, not f32")
    prec = prec.get_type_name()
    if nthreads != threads:
        raise RuntimeError(f"OpenVINO compiled the model for {nthreads} threads, not {threads}")
    req = compiled.create_infer_request()
    out = compiled.outputs[0]

    def run(feeds):
        return req.infer(feeds)[out]
    settings = {"INFERENCE_PRECISION_HINT": prec, "INFERENCE_NUM_THREADS": nthreads,
                "NUM_STREAMS": str(compiled.get_property("NUM_STREAMS")), "PERFORMANCE_HINT": "LATENCY",
                "device": core.get_property("CPU", "FULL_DEVICE_NAME")}
    return run, f"OpenVINO {ov.__version__.split('-')[0]}", settings


def time_model(a):
    model = os.path.join(a.dir, "model.onnx")
    try:
        feeds = {"clip": np.load(os.path.join(a.dir, "clip.npy")),
                 "logmel": np.load(os.path.join(a.dir, "logmel.npy"))}
        ref = np.load(os.path.join(a.dir, "ref_sal.npy"))
    except OSError as e:
        print(f"anchors_run: error: {e} (run bench/anchors_export.py first)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    run, name, settings = (ort_session if a.engine == "ort" else openvino_session)(model, a.threads)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    sal = np.asarray(run(feeds))
    t_warm = time.perf_counter() - t0
    if sal.shape != ref.shape:
        print(f"anchors_run: error: {name}: output shape {sal.shape}, reference {ref.shape}", file=sys.stderr)
        return 1
    err = float(np.abs(sal.astype(np.float64) - ref).max())
    if not np.isfinite(sal).all() or not err <= a.tol:
        print(f"anchors_run: error: {name}: map differs from the PyTorch reference by {err:.3e} "
              f"(limit {a.tol:g}) or is not finite; not timed", file=sys.stderr)
        return 1
    walls = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        run(feeds)
        walls.append(time.perf_counter() - t0)
    med = statistics.median(walls)
    groups = None
    if a.groups:
        groups = (ort_groups if a.engine == "ort" else openvino_groups)(model, a.threads, feeds)
    print(f"anchors_run: {name}: {settings}; load {t_load:.1f} s, warm-up {t_warm:.2f} s; "
          f"max abs map error vs reference {err:.2e}; median {med:.3f} s per clip "
          f"(min {min(walls):.3f}, max {max(walls):.3f}, {a.reps} runs)")
    write_json(a.json, {"engine": name, "settings": settings, "threads": a.threads,
                        "max_abs_err": err, "tol": a.tol, "load_seconds": t_load, "warmup_seconds": t_warm,
                        "seconds_all": walls, "seconds_median": med, "seconds_min": min(walls),
                        "seconds_max": max(walls), "groups": groups})
    return 0


def time_openblas(a):
    from threadpoolctl import threadpool_info, threadpool_limits
    n = a.size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n), dtype=np.float32)
    y = rng.standard_normal((n, n), dtype=np.float32)
    z = np.empty((n, n), np.float32)
    with threadpool_limits(limits=a.threads, user_api="blas"):
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        np.matmul(x, y, out=z)
        walls = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            np.matmul(x, y, out=z)
            walls.append(time.perf_counter() - t0)
    flop = 2.0 * n * n * n
    med, best = statistics.median(walls), min(walls)
    lib = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} kernels, "
                    f"{i.get('num_threads')} threads ({i.get('threading_layer')})" for i in info) or "?"
    print(f"anchors_run: NumPy {np.__version__} sgemm {n}^3: median {flop / med * 1e-9:.1f} GFLOP/s, "
          f"best {flop / best * 1e-9:.1f} ({a.reps} runs); {lib}")
    write_json(a.json, {"engine": f"OpenBLAS (NumPy {np.__version__})", "library": info, "size": n,
                        "threads": a.threads, "seconds_all": walls, "gflops_median": flop / med * 1e-9,
                        "gflops_best": flop / best * 1e-9})
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("engine", choices=["ort", "openvino", "openblas"])
    p.add_argument("--dir", help="the folder bench/anchors_export.py wrote (ort, openvino)")
    p.add_argument("--threads", type=int, default=2, help="threads (2)")
    p.add_argument("--reps", type=int, default=5, help="timed runs after the warm-up (5)")
    p.add_argument("--tol", type=float, default=2.5e-4, help="max abs map error vs the reference (2.5e-4)")
    p.add_argument("--groups", action="store_true",
                   help="ort, openvino: after the timed runs, one profiled run, its node times summed per "
                        "layer group (caspnet bench's groups)")
    p.add_argument("--size", type=int, default=1024, help="openblas: N of the N^3 product (1024)")
    p.add_argument("--json", help="write the result here")
    a = p.parse_args(argv)
    if a.threads < 1 or a.reps < 1 or a.size < 1:
        p.error("--threads, --reps and --size must be positive")
    if a.engine == "openblas":
        return time_openblas(a)
    if not a.dir:
        p.error(f"{a.engine} needs --dir")
    try:
        return time_model(a)
    except RuntimeError as e:  # the engines' load / compile errors
        print(f"anchors_run: error: {a.engine}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
