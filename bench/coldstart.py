"""Cold-start cost of our functions: the import time of `functions/main.py` (what discovery and
each new instance pay) against importing `firebase_functions` alone, in one run.

    python bench/coldstart.py [--runs 7] [--python functions/venv/bin/python]

Each figure is the median over fresh interpreter processes (no module cache shared between
runs); `shared` is found as the deployed folder finds it (PYTHONPATH at the repository root when
functions/shared is not vendored).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"

_TIMED = """
import sys, time
sys.path.insert(0, ".")
started = time.perf_counter()
{body}
print(time.perf_counter() - started)
"""
SDK_ONLY = "import firebase_functions.https_fn, firebase_functions.firestore_fn"
MAIN = (
    "import importlib.util\n"
    "spec = importlib.util.spec_from_file_location('main', 'main.py')\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)"
)


def time_import(python: str, body: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "0"}
    done = subprocess.run(
        [python, "-c", _TIMED.format(body=body)],
        cwd=FUNCTIONS,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    default_python = FUNCTIONS / "venv" / "bin" / "python"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--python", default=str(default_python if default_python.exists() else sys.executable)
    )
    args = parser.parse_args()
    time_import(args.python, MAIN)  # warm the bytecode caches once
    sdk = [time_import(args.python, SDK_ONLY) for _ in range(args.runs)]
    ours = [time_import(args.python, MAIN) for _ in range(args.runs)]
    sdk_ms, ours_ms = statistics.median(sdk) * 1000, statistics.median(ours) * 1000
    print(f"python: {args.python} ({args.runs} runs each, median)")
    print(f"import firebase_functions alone: {sdk_ms:7.1f} ms")
    print(f"import functions/main.py:        {ours_ms:7.1f} ms")
    print(f"ratio main.py / SDK:             {ours_ms / sdk_ms:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
