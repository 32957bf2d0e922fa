"""Start-up: `prodfix --help` vs `python3 -c pass`, median of 20 each (target ratio ≤ 6×).

python bench/bench_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def once(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    exe = shutil.which("prodfix", path=str(Path(sys.executable).parent)) or shutil.which("prodfix")
    if not exe:
        sys.exit("prodfix is not installed in this environment (pip install -e .)")
    cases = {"prodfix --help": [exe, "--help"], "python -c pass": [sys.executable, "-c", "pass"]}
    times: dict[str, list[float]] = {k: [] for k in cases}
    for argv in cases.values():  # warm-up: page cache, .pyc files
        once(argv)
        once(argv)
    for _ in range(a.runs):  # alternate, so machine noise hits both alike
        for name, argv in cases.items():
            times[name].append(once(argv))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, v in times.items():
        print(f"{name:16} median {med[name] * 1000:6.1f} ms  (min {min(v) * 1000:.1f})")
    ratio = med["prodfix --help"] / med["python -c pass"]
    print(f"ratio            {ratio:.2f}x   (target <= 6x)")


if __name__ == "__main__":
    main()
