#!/usr/bin/env python3
"""Runs the language tests (tests/lang/*.som) with any mica command, as
tests/lang.rs does, for builds the Rust harness cannot drive directly (a
cross-built binary under an emulator).

    ci/lang-tests.py [--mica "COMMAND"] [--timeout SECONDS] [-- mica options]

COMMAND defaults to target/release/mica and may include an emulator, e.g.
"qemu-aarch64 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib
target/cross/aarch64-unknown-linux-gnu/release/mica".
Prints each test's time as it goes (a test still running after SECONDS,
300 by default, fails) and ends with a line `N passed, M failed`.
"""
import os
import shlex
import subprocess
import sys
import time


def parse(text):
    if not text.lstrip().startswith('"'):
        return None
    body = text.lstrip()[1:]
    body = body[: body.index('"')]
    spec = {"status": 0, "stdout": [], "stderr": [], "args": []}
    key = None
    for line in body.splitlines():
        if line and not line[0].isspace() and ":" in line:
            name, _, value = line.partition(":")
            name = name.strip()
            value = value.strip()
            if name == "status":
                spec["status"] = int(value)
                key = None
            elif name == "stdout":
                key = "stdout"
                if value:
                    spec["stdout"].append(value)
            elif name == "stderr contains":
                spec["stderr"].append(value)
                key = None
            elif name == "args":
                spec["args"] = value.split()
                key = None
            else:
                key = None
            continue
        if key == "stdout" and line.strip():
            spec["stdout"].append(line.strip())
    return spec


def main():
    args = sys.argv[1:]
    mica = "target/release/mica"
    extra = []
    if "--mica" in args:
        i = args.index("--mica")
        mica = args[i + 1]
        args = args[:i] + args[i + 2 :]
    timeout = 300
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = int(args[i + 1])
        args = args[:i] + args[i + 2 :]
    if "--" in args:
        extra = args[args.index("--") + 1 :]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    lang = os.path.join(root, "tests", "lang")
    passed, failed = 0, []
    for name in sorted(os.listdir(lang)):
        if not name.endswith(".som"):
            continue
        path = os.path.join(lang, name)
        with open(path, encoding="utf-8") as f:
            spec = parse(f.read())
        if spec is None:
            continue
        cmd = shlex.split(mica) + extra + ["-cp", lang, path] + spec["args"]
        start = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
        except subprocess.TimeoutExpired:
            print(f"{name}: timed out after {timeout} s", flush=True)
            failed.append((name, "timed out"))
            continue
        print(f"{name}: {time.monotonic() - start:.1f} s", flush=True)
        out = [l.strip() for l in r.stdout.splitlines()]
        problems = []
        if r.returncode != spec["status"]:
            problems.append(f"status {r.returncode}, expected {spec['status']}")
        if out != spec["stdout"]:
            problems.append(f"stdout {out[:6]} expected {spec['stdout'][:6]}")
        for part in spec["stderr"]:
            if part not in r.stderr:
                problems.append(f"stderr lacks {part!r}")
        if problems:
            failed.append((name, "; ".join(problems)))
        else:
            passed += 1
    for name, why in failed:
        print(f"FAIL {name}: {why}")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
