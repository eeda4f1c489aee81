#!/usr/bin/env python3
"""Two caspnet builds against each other per layer group: interleaved rounds of `caspnet bench`, paired ratios per round.

On a shared machine the load moves between runs; each round runs the base
build, then the new build on every device (and ONNX Runtime once, when
--ort-dir is given), so one round's ratio compares runs seconds apart. The
table gives each group's median over the rounds for both builds and the
median of the per-round ratios (base / new: above 1, the new build is faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def load_avg():
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except OSError:
        return float('nan')


def run(cmd, log):
    t0 = time.strftime('%H:%M:%S', time.gmtime())
    l0 = load_avg()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(log, 'w') as f:
        f.write(f'# {t0} UTC, load {l0:.1f} -> {load_avg():.1f}\n$ {" ".join(cmd)}\n{r.stdout}')
    if r.returncode != 0:
        sys.exit(f'ab_groups: {" ".join(cmd)} failed (exit {r.returncode}); see {log}')
    return l0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base', required=True, help='caspnet binary of the base build')
    ap.add_argument('--new', required=True, help='caspnet binary of the new build')
    ap.add_argument('--weights', required=True, help='weights file both read')
    ap.add_argument('--devices', default='0', help='comma-separated device indices (default 0)')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--reps', type=int, default=3, help='timed passes per caspnet bench run')
    ap.add_argument('--size', default='224x384')
    ap.add_argument('--ort-dir', help='an ONNX export of bench/anchors.py: time ONNX Runtime once per round')
    ap.add_argument('--venv-python', default=os.path.join(os.path.dirname(__file__), '..', '.deps', 'bench-venv', 'bin', 'python'))
    ap.add_argument('--out', help='folder for the logs and JSON (default: a new temporary one)')
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix='ab_groups.')
    os.makedirs(out, exist_ok=True)
    devs = [int(d) for d in a.devices.split(',')]
    res = {(v, d): [] for v in ('base', 'new') for d in devs}
    ort, loads = [], []
    for r in range(1, a.rounds + 1):
        for v in ('base', 'new'):
            for d in devs:
                j = os.path.join(out, f'{v}-d{d}-r{r}.json')
                cmd = [getattr(a, v), 'bench', '--device', str(d), '--weights', a.weights, '--size', a.size,
                       '--reps', str(a.reps), '--batches', '1', '--precision', 'fp32', '--json', j]
                loads.append(run(cmd, j[:-5] + '.log'))
                res[(v, d)].append(json.load(open(j))['devices'][0])
                print(f'round {r} {v} device {d}: {res[(v, d)][-1]["seconds_median"]:.3f} s per clip', flush=True)
        if a.ort_dir:
            j = os.path.join(out, f'ort-r{r}.json')
            here = os.path.dirname(os.path.abspath(__file__))
            cmd = [a.venv_python, os.path.join(here, 'anchors_run.py'), 'ort', '--dir', a.ort_dir, '--threads', '2',
                   '--reps', str(a.reps), '--tol', '0.00025', '--json', j]
            loads.append(run(cmd, j[:-5] + '.log'))
            ort.append(json.load(open(j))['seconds_median'])
            print(f'round {r} ONNX Runtime: {ort[-1]:.3f} s per clip', flush=True)
    print(f'\n{a.rounds} interleaved rounds, {a.reps} timed passes each, clip 16 x {a.size.replace("x", " x ")}; '
          f'1-minute load average at the runs\' starts {min(loads):.1f}-{max(loads):.1f}; logs in {out}\n')
    for d in devs:
        b, n = res[('base', d)], res[('new', d)]
        names = [g['name'] for g in b[0]['groups']]
        gs = lambda run_, name: next(g['seconds'] for g in run_['groups'] if g['name'] == name)
        print(f'[{d}] {b[0]["device"]}: base conv tuning: {b[0]["tuning_conv"]}; new: {n[0]["tuning_conv"]}')
        print(f'{"group":<12} {"GFLOP":>6} {"base ms":>8} {"new ms":>8} {"base/new":>8}  per round')
        for name in names + ['sum']:
            if name == 'sum':
                bb = [sum(g['seconds'] for g in x['groups']) for x in b]
                nn = [sum(g['seconds'] for g in x['groups']) for x in n]
                gf = sum(g['gflop'] for g in b[0]['groups'])
            else:
                bb, nn = [gs(x, name) for x in b], [gs(x, name) for x in n]
                gf = next(g['gflop'] for g in b[0]['groups'] if g['name'] == name)
            rat = [x / y for x, y in zip(bb, nn)]
            print(f'{name:<12} {gf:6.2f} {statistics.median(bb) * 1e3:8.1f} {statistics.median(nn) * 1e3:8.1f} '
                  f'{statistics.median(rat):8.2f}  {" ".join(f"{x:.2f}" for x in rat)}')
        bw, nw = [x['seconds_median'] for x in b], [x['seconds_median'] for x in n]
        rat = [x / y for x, y in zip(bw, nw)]
        print(f'{"s per clip":<12} {"":6} {statistics.median(bw):8.3f} {statistics.median(nw):8.3f} '
              f'{statistics.median(rat):8.2f}  {" ".join(f"{x:.2f}" for x in rat)}')
        if ort:
            rb = [x / y for x, y in zip(bw, ort)]
            rn = [x / y for x, y in zip(nw, ort)]
            print(f'over ONNX Runtime (same rounds: {" ".join(f"{x:.3f}" for x in ort)} s): '
                  f'base {statistics.median(rb):.2f} ({" ".join(f"{x:.2f}" for x in rb)}), '
                  f'new {statistics.median(rn):.2f} ({" ".join(f"{x:.2f}" for x in rn)})')
        print(f'peak device memory: base {b[0]["peak_bytes"] / 2**20:.1f} MiB, new {n[0]["peak_bytes"] / 2**20:.1f} MiB\n')


if __name__ == '__main__':
    main()
