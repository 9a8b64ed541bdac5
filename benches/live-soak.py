#!/usr/bin/env python3
"""Soak test of the live connection (a benchmark, not part of CI).

Runs the Are We Fast Yet Richards benchmark under the JIT, connects to it
and sends a stream of random requests while it runs: redefinitions of
Richards methods (each with an equivalent body, so the benchmark must
still verify), definitions and redefinitions of a scratch class, evals
that use them, bad requests, reverts. At the end the benchmark must exit
0 having verified every iteration, and every reply must be what the
request asked for.

Also measures, while Richards runs native: how long an edit takes to be
applied (request sent to reply read: the program applies it at its next
safepoint) and how many compiled methods each edit invalidated.

    benches/live-soak.py ~/are-we-fast-yet [--mica target/release/mica]
        [--requests 10000] [--seed 1] [--jit on]
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLASS_PATH = ".:Core:CD:DeltaBlue:Havlak:Json:NBody:Richards"

# Methods of Richards with bodies equivalent to AWFY's (written here).
EQUIVALENT = [
    ("TaskState", "isTaskHoldingOrWaiting = ( ^taskHolding or: [ packetPending not and: [ taskWaiting ] ] )"),
    ("TaskState", "isWaitingWithPacket = ( ^packetPending and: [ taskWaiting and: [ taskHolding not ] ] )"),
    ("TaskState", "isTaskHolding = ( ^taskHolding )"),
    ("TaskState", "isTaskWaiting = ( ^taskWaiting )"),
    ("TaskState", "isPacketPending = ( ^packetPending )"),
    ("TaskState", "taskHolding: aBoolean = ( taskHolding := aBoolean )"),
    ("TaskState", "taskWaiting: aBoolean = ( taskWaiting := aBoolean )"),
]


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw", encoding="utf-8")
        self.next = 1
        hello = json.loads(self.file.readline())
        assert hello["event"] == "hello", hello

    def call(self, request):
        rid = self.next
        self.next += 1
        request["id"] = rid
        self.file.write(json.dumps(request) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("the program closed the connection")
            reply = json.loads(line)
            if reply.get("id") == rid:
                return reply

    def raw(self, text):
        self.file.write(text + "\n")
        self.file.flush()
        return json.loads(self.file.readline())


def connect(sockets, pid, proc):
    path = os.path.join(sockets, f"{pid}.sock")
    start = time.time()
    while True:
        try:
            return Conn(path)
        except OSError:
            if proc.poll() is not None or time.time() - start > 20:
                sys.exit(f"no endpoint at {path}")
            time.sleep(0.01)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("awfy", help="an are-we-fast-yet checkout")
    p.add_argument("--mica", default="target/release/mica")
    p.add_argument("--requests", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jit", default="on")
    a = p.parse_args()
    som = os.path.join(a.awfy, "benchmarks", "SOM")
    mica = os.path.abspath(a.mica)
    rng = random.Random(a.seed)
    sockets = tempfile.mkdtemp(prefix="mica-soak-")
    env = dict(os.environ, MICA_LIVE_DIR=os.path.join(sockets, "s"))
    # Enough iterations to outlast the requests.
    out_path, err_path = os.path.join(sockets, "out"), os.path.join(sockets, "err")
    proc = subprocess.Popen([mica, f"--jit={a.jit}", "--stats", "-cp", CLASS_PATH, "Harness.som", "Richards",
                             "100000", "1"], cwd=som, env=env, stdout=open(out_path, "w"), stderr=open(err_path, "w"))
    conn = connect(env["MICA_LIVE_DIR"], proc.pid, proc)
    time.sleep(2.0)  # Richards is hot and native by now.

    # Edit-to-effect latency and methods invalidated per edit, while it runs.
    latencies, invalidated = [], []
    native_before = conn.call({"op": "stats"})["nativeMethods"]
    for i in range(200):
        cls, src = EQUIVALENT[i % len(EQUIVALENT)]
        t = time.perf_counter()
        r = conn.call({"op": "define", "class": cls, "source": src})
        latencies.append(time.perf_counter() - t)
        assert r["ok"], r
        invalidated.append(r["invalidated"])
        time.sleep(0.005)
    native_after = conn.call({"op": "stats"})["nativeMethods"]

    # The soak: random requests.
    t0 = time.time()
    counts = {}
    conn.call({"op": "define", "source": "SoakProbe = ( | n | n = ( ^n ifNil: [ 0 ] ) bump = ( n := self n + 1 ) )"})
    conn.call({"op": "eval", "source": "probe := SoakProbe new"})
    for i in range(a.requests):
        kind = rng.choice(["equivalent", "probe", "eval", "bad", "revert", "compileError"])
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "equivalent":
            cls, src = rng.choice(EQUIVALENT)
            r = conn.call({"op": "define", "class": cls, "source": src})
            assert r["ok"], r
        elif kind == "probe":
            k = rng.randint(1, 9)
            r = conn.call({"op": "define", "class": "SoakProbe", "source": f"step = ( ^{k} )"})
            assert r["ok"], r
            r = conn.call({"op": "eval", "source": "probe step"})
            assert r["ok"] and r["value"] == str(k), r
        elif kind == "eval":
            x, y = rng.randint(0, 10**9), rng.randint(1, 10**6)
            r = conn.call({"op": "eval", "source": f"({x} * {y}) + ({x} / {y})"})
            assert r["ok"] and int(r["value"]) == x * y + (x // y), (x, y, r)
        elif kind == "bad":
            r = conn.raw(rng.choice(["{", "[]", '{"id": 1}', '{"id": 2, "op": "nope"}']))
            assert r["ok"] is False, r
        elif kind == "revert":
            r = conn.call({"op": "revert"})
            assert r["ok"] or r["error"]["kind"] == "notFound", r
        else:
            r = conn.call({"op": "define", "class": "SoakProbe", "source": "broken = ( ^ )"})
            assert r["error"]["kind"] == "compile", r
    soak_s = time.time() - t0
    proc.terminate()
    proc.wait(timeout=60)
    out, err = open(out_path).read(), open(err_path).read()
    # Terminated by us (143) after verifying every iteration it ran.
    bad = "ERROR" in out or "Traceback" in err or "panicked" in err or proc.returncode not in (0, 143)
    latencies.sort()
    print(f"edits while Richards runs native (--jit={a.jit}): {len(latencies)}")
    print(f"  edit-to-effect latency: median {statistics.median(latencies) * 1e3:.2f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms, max {latencies[-1] * 1e3:.2f} ms")
    print(f"  compiled methods invalidated per edit: median {statistics.median(invalidated)}, "
          f"max {max(invalidated)}; native methods before {native_before}, after {native_after}")
    print(f"soak: {a.requests} requests in {soak_s:.1f} s ({counts}); "
          f"program status {proc.returncode}, {'FAILED' if bad else 'ok'}")
    if bad:
        print(out[-2000:], err[-2000:])
        sys.exit(1)


if __name__ == "__main__":
    main()
