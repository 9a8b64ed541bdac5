#!/usr/bin/env python3
"""The live connection's client side, end to end, with a given mica
command (AArch64 under qemu in ci/aarch64.sh): a program runs with the JIT
forced on, `mica connect` evaluates in it, defines a class from a file,
redefines a method the hot loop calls, saves the edits, and a second run
applies them with --load. Ends with a line `live: N passed, M failed`.

    ci/live-smoke.py --mica "target/release/mica" [-- RUN_OPTIONS...]
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

WORKER = """Worker = (
    run = (
        | n |
        n := 0.
        [ Worker stopped ] whileFalse: [
            n := n + self step.
            n % 1000 = 0 ifTrue: [ (Delay forMilliseconds: 1) wait ] ].
        self step println
    )
    step = ( ^1 )
    ----
    | stop |
    stopped = ( ^stop ifNil: [ false ] )
    stop = ( stop := true )
)
"""

EXTRA = "Extra = ( answer = ( ^6 * 7 ) )\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mica", required=True, help="the mica command (may hold spaces: qemu-aarch64 ... mica)")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("run_options", nargs="*")
    a = p.parse_args()
    mica = shlex.split(a.mica)
    work = tempfile.mkdtemp(prefix="mica-live-smoke-")
    src = os.path.join(work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "Worker.som"), "w") as f:
        f.write(WORKER)
    extra = os.path.join(work, "Extra.som")
    with open(extra, "w") as f:
        f.write(EXTRA)
    env = dict(os.environ, MICA_LIVE_DIR=os.path.join(work, "sockets"))
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))

    def connect(*args):
        return subprocess.run(mica + ["connect", str(proc.pid), *args], env=env, capture_output=True, text=True,
                              timeout=a.timeout)

    out_path = os.path.join(work, "out")
    proc = subprocess.Popen(mica + a.run_options + ["-cp", src, "Worker"], env=env,
                            stdout=open(out_path, "w"), stderr=subprocess.STDOUT)
    socket_path = os.path.join(env["MICA_LIVE_DIR"], f"{proc.pid}.sock")
    start = time.time()
    while not os.path.exists(socket_path) and proc.poll() is None and time.time() - start < a.timeout:
        time.sleep(0.05)
    check("the endpoint opens", os.path.exists(socket_path), open(out_path).read())
    r = connect("--eval", "3 + 4")
    check("eval", r.returncode == 0 and r.stdout == "7\n", r.stdout + r.stderr)
    r = connect("--eval", "1 / 0")
    check("eval error", r.returncode == 1 and "Division by zero" in r.stderr, r.stdout + r.stderr)
    r = connect("--file", extra)
    check("define a class from a file", r.returncode == 0 and "defined class Extra" in r.stdout, r.stdout + r.stderr)
    r = connect("--eval", "Extra new answer")
    check("use it", r.stdout == "42\n", r.stdout + r.stderr)
    r = subprocess.run(mica + ["connect", str(proc.pid), "--json"], env=env, capture_output=True, text=True,
                       input='{"id": 1, "op": "define", "class": "Worker", "source": "step = ( ^2 )"}\n',
                       timeout=a.timeout)
    check("define a method the hot loop calls", '"ok":true' in r.stdout, r.stdout + r.stderr)
    edits = os.path.join(work, "edits.mimg")
    r = connect("--save", edits)
    check("save", r.returncode == 0 and os.path.exists(edits), r.stdout + r.stderr)
    r = connect("--eval", "Worker stop")
    try:
        proc.wait(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
    out = open(out_path).read()
    check("the program saw the edit and ended", proc.returncode == 0 and out == "2\n", out)
    # Applied at the next start: the program stops at once (stop is not
    # saved, only methods), so a second class ends it.
    with open(os.path.join(src, "Once.som"), "w") as f:
        f.write("Once = ( run = ( Worker new step println. Extra new answer println ) )\n")
    r = subprocess.run(mica + a.run_options + ["--load", edits, "-cp", src, "Once"], env=env, capture_output=True,
                       text=True, timeout=a.timeout)
    check("--load applies the saved edits", r.returncode == 0 and r.stdout == "2\n42\n", r.stdout + r.stderr)
    passed = sum(results)
    print(f"live: {passed} passed, {len(results) - passed} failed")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
