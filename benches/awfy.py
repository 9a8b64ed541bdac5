#!/usr/bin/env python3
"""Are We Fast Yet under Mica: each benchmark in each JIT mode, interleaved.

    benches/awfy.py AWFY_CHECKOUT [--rounds N] [--iterations N]
                    [--modes off,on,eager] [--mica PATH] [--only NAME,...]

AWFY_CHECKOUT is a checkout of smarr/are-we-fast-yet (not part of this
repository). Each round runs every benchmark once in every mode, one after
the other, so that a noisy machine slows all modes alike; the time kept per
benchmark and mode is the best round's. A run is the harness's total time
for ITERATIONS iterations (1 by default: the first iteration, compilation
included), at the sizes the benchmarks' own harness uses. Prints a table of
times in ms, the speed-up of every mode over the interpreter (`off`), their
geometric means and the JIT's compile time; a benchmark whose output
reports an error fails the run.
"""
import argparse
import math
import os
import re
import subprocess
import sys

BENCHMARKS = [
    ("Bounce", 1000), ("CD", 100), ("DeltaBlue", 12000), ("Havlak", 1),
    ("Json", 100), ("List", 1000), ("Mandelbrot", 500), ("NBody", 250000),
    ("Permute", 500), ("Queens", 500), ("Richards", 20), ("Sieve", 1000),
    ("Storage", 1000), ("Towers", 600),
]
CLASS_PATH = ".:Core:CD:DeltaBlue:Havlak:Json:NBody:Richards"


def run(mica, som_dir, mode, name, iterations, size):
    cmd = [mica, f"--jit={mode}", "--stats", "-cp", CLASS_PATH, "Harness.som",
           name, str(iterations), str(size)]
    r = subprocess.run(cmd, cwd=som_dir, capture_output=True, text=True, errors="replace")
    out = r.stdout + r.stderr
    total = re.search(r"Total Runtime: (\d+)us", out)
    if r.returncode != 0 or total is None or re.search(r"ERROR|Traceback|panicked", out):
        sys.exit(f"{name} failed with --jit={mode}:\n{out[-2000:]}")
    compile_ms = re.search(r"([0-9.]+) ms compiling", out)
    return int(total.group(1)) / 1000.0, float(compile_ms.group(1)) if compile_ms else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("awfy")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--modes", default="off,on,eager")
    ap.add_argument("--mica", default=None)
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    mica = os.path.abspath(a.mica or os.path.join(root, "target", "release", "mica"))
    if not os.path.exists(mica):
        sys.exit(f"{mica} not found: build it with `cargo build --release`")
    som_dir = os.path.join(a.awfy, "benchmarks", "SOM")
    if not os.path.exists(os.path.join(som_dir, "Harness.som")):
        sys.exit(f"{som_dir}/Harness.som not found: is {a.awfy} an are-we-fast-yet checkout?")
    modes = a.modes.split(",")
    if modes[0] != "off":
        modes.insert(0, "off")
    benches = BENCHMARKS
    if a.only:
        wanted = set(a.only.split(","))
        benches = [b for b in BENCHMARKS if b[0] in wanted]
    best = {}
    compile_ms = {}
    for _ in range(a.rounds):
        for name, size in benches:
            for mode in modes:
                t, c = run(mica, som_dir, mode, name, a.iterations, size)
                key = (name, mode)
                if key not in best or t < best[key]:
                    best[key] = t
                    compile_ms[key] = c
    head = f"{'benchmark':<12}" + "".join(f"{m + ' ms':>10}" for m in modes)
    head += "".join(f"{m + ' x':>9}" for m in modes[1:]) + f"{'compile ms':>12}"
    print(head)
    logs = {m: 0.0 for m in modes[1:]}
    total_compile = 0.0
    for name, _ in benches:
        line = f"{name:<12}" + "".join(f"{best[(name, m)]:>10.1f}" for m in modes)
        for m in modes[1:]:
            ratio = best[(name, "off")] / best[(name, m)]
            logs[m] += math.log(ratio)
            line += f"{ratio:>9.2f}"
        c = compile_ms.get((name, "on"), 0.0)
        total_compile += c
        print(line + f"{c:>12.1f}")
    for m in modes[1:]:
        print(f"geometric mean speed-up, --jit={m}: {math.exp(logs[m] / len(benches)):.2f}x")
    if "on" in modes:
        print(f"compile time, --jit=on, all benchmarks: {total_compile:.0f} ms")


if __name__ == "__main__":
    main()
