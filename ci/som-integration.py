#!/usr/bin/env python3
"""Runs SOM's IntegrationTests (from a checkout you provide) against mica.

    ci/som-integration.py SOM_CHECKOUT [--mica PATH] [-- extra mica options]

Each test file opens with a comment giving the expected `status`
(success/error), `stdout` and/or `stderr`; `...` in an expected block
matches any number of lines. A test passes when the exit status and stdout
match (stderr wording is the reference implementation's and is only
reported). Tests in sub-folders run as `test.som` with the folder on the
class path. Prints one line per failure and ends with `N passed, M failed`.
"""
import os
import re
import subprocess
import sys


def parse_header(text):
    m = re.match(r'\s*"(.*?)"', text, re.S)
    if not m:
        return None
    spec = {"status": "success", "stdout": None, "stderr": None}
    key = None
    for line in m.group(1).splitlines():
        stripped = line.strip()
        km = re.match(r"^(status|stdout|stderr|custom_classpath|case_sensitive):\s*(.*)$", stripped)
        if km and (key is None or km.group(1) != key):
            key = km.group(1)
            value = km.group(2)
            if key == "status":
                spec["status"] = value.strip()
                key = None
            elif key == "custom_classpath":
                spec["classpath"] = value.strip()
                key = None
            elif key in ("stdout", "stderr"):
                spec[key] = [value] if value else []
            else:
                key = None
            continue
        if key in ("stdout", "stderr") and stripped:
            spec[key].append(stripped)
    return spec


def matches(expected, actual_lines):
    """Expected lines in order; `...` matches any run of lines; a line that
    ends or starts with `...` matches by suffix or prefix."""
    actual = [l.strip() for l in actual_lines]
    while actual and not actual[-1]:
        actual.pop()

    def line_ok(e, a):
        if e.startswith("...") and len(e) > 3:
            return a.endswith(e[3:].strip())
        if e.endswith("...") and len(e) > 3:
            return a.startswith(e[:-3].strip())
        return e == a

    def go(i, j):
        if i == len(expected):
            return j == len(actual) or (len(expected) > 0 and expected[-1] == "...")
        if expected[i] == "...":
            return any(go(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and line_ok(expected[i], actual[j]) and go(i + 1, j + 1)

    return go(0, 0)


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not args:
        print(__doc__)
        return 2
    som = args[0]
    mica = os.path.join(os.path.dirname(__file__), "..", "target", "release", "mica")
    extra = []
    rest = args[1:]
    if "--mica" in rest:
        i = rest.index("--mica")
        mica = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    if "--" in rest:
        extra = rest[rest.index("--") + 1:]
    som = os.path.abspath(som)
    mica = os.path.abspath(mica)
    if not os.path.isdir(os.path.join(som, "IntegrationTests", "Tests")):
        print(f"som-integration: {som} is not a SOM checkout (no IntegrationTests/Tests)", file=sys.stderr)
        return 2
    if not os.access(mica, os.X_OK):
        print(f"som-integration: no mica at {mica} (cargo build --release, or --mica PATH)", file=sys.stderr)
        return 2
    # The tests name files relative to a folder holding the SOM checkout as
    # `core-lib` (as SOM implementations embed it).
    import tempfile
    work = tempfile.mkdtemp(prefix="mica-integration-")
    os.symlink(som, os.path.join(work, "core-lib"))
    tests_dir = os.path.join(som, "IntegrationTests", "Tests")
    passed, failed = 0, []
    entries = sorted(os.listdir(tests_dir))
    for name in entries:
        path = os.path.join(tests_dir, name)
        if os.path.isdir(path):
            test_file = os.path.join(path, "test.som")
            cp = [path]
        elif name.endswith(".som"):
            test_file = path
            cp = [tests_dir]
        else:
            continue
        if not os.path.exists(test_file):
            continue
        with open(test_file, encoding="utf-8", errors="replace") as f:
            spec = parse_header(f.read())
        if spec is None:
            continue
        if "classpath" in spec:
            cp = spec["classpath"].split(":") + cp
        cmd = [mica] + extra + ["-cp", ":".join(cp), test_file]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=60, text=True, errors="replace", cwd=work)
            status_ok = (r.returncode == 0) == (spec["status"] == "success")
            stdout_ok = spec["stdout"] is None or matches(spec["stdout"], r.stdout.splitlines())
            stderr_ok = spec["stderr"] is None or matches(spec["stderr"], r.stderr.splitlines())
            why = []
            if not status_ok:
                why.append(f"status {r.returncode}, expected {spec['status']}")
            if not stdout_ok:
                why.append("stdout differs: " + " | ".join(r.stdout.splitlines()[:4]))
        except subprocess.TimeoutExpired:
            why = ["timed out"]
            stderr_ok = True
        if why:
            failed.append((name, why, r.stderr.splitlines()[-1:] if not why == ["timed out"] else []))
        else:
            passed += 1
            if not stderr_ok:
                print(f"note {name}: stderr wording differs")
    for name, why, err in failed:
        print(f"FAIL {name}: {'; '.join(why)} {err}")
    print(f"{passed} passed, {len(failed)} failed")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
