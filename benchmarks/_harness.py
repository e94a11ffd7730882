"""Small helpers shared by rml's benchmarks: timing, the machine's GEMM roofline, peak memory
of a snippet run in a fresh subprocess, a plain-text table and JSON output.

Every benchmark runs rml and its peers on the same data in one process and reports medians and
ratios; the machine may be shared, so treat single runs as indicative.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np


def timeit(fn, repeats=3, warmup=1):
    """Run ``fn()`` ``warmup`` times untimed, then ``repeats`` times; return
    ``(median_seconds, all_times, last_result)``."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def matmul_gflops(dtype, n=2048, repeats=5):
    """This machine's GEMM roofline: numpy (BLAS) ``n x n @ n x n`` GFLOP/s, all threads,
    median of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    med, _, _ = timeit(lambda: a @ b, repeats=repeats, warmup=1)
    return 2.0 * n**3 / med / 1e9


def roofline(n=2048, repeats=5):
    """``{"float64": GFLOP/s, "float32": GFLOP/s}`` of numpy matmul."""
    return {
        "float64": matmul_gflops(np.float64, n, repeats),
        "float32": matmul_gflops(np.float32, n, repeats),
    }


def machine_info():
    """A few facts that explain the numbers: cores, CPU model, library versions, load."""
    info = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["loadavg"] = os.getloadavg()
    except OSError:
        pass
    return info


def peak_rss_subprocess(code, timeout=1800):
    """Run ``code`` (a Python snippet) in a fresh interpreter and return the dict it prints
    as its last stdout line (JSON).

    The snippet may call ``_reset_peak()`` (resets the kernel's resident-memory high-water
    mark, Linux >= 4.0) and ``_mark(name)``, which records ``name + "_rss"`` (current resident
    MiB) and ``name + "_peak"`` (high-water mark MiB since the last reset: ``VmHWM``, or
    ``ru_maxrss`` where /proc is unavailable). The final high-water mark is ``"peak_mib"``.
    """
    prelude = (
        "import resource, json, sys\n"
        "_marks = {}\n"
        "def _status():\n"
        "    try:\n"
        "        vals = {}\n"
        "        with open('/proc/self/status') as f:\n"
        "            for line in f:\n"
        "                if line.startswith(('VmRSS:', 'VmHWM:')):\n"
        "                    k, v = line.split(':', 1)\n"
        "                    vals[k] = int(v.split()[0]) / 1024.0\n"
        "        return vals['VmRSS'], vals['VmHWM']\n"
        "    except (OSError, KeyError, ValueError):\n"
        "        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0\n"
        "        return peak, peak\n"
        "def _reset_peak():\n"
        "    try:\n"
        "        with open('/proc/self/clear_refs', 'w') as f:\n"
        "            f.write('5')\n"
        "    except OSError:\n"
        "        pass\n"
        "def _mark(name):\n"
        "    _marks[name + '_rss'], _marks[name + '_peak'] = _status()\n"
    )
    epilogue = "\n_marks['peak_mib'] = _status()[1]\nprint(json.dumps(_marks))\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + code + epilogue],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"subprocess failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_table(rows, columns):
    """Plain-text table of ``rows`` (dicts) with the given ``columns`` (keys); floats are
    printed with 3 significant digits."""

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells)
    return "\n".join(lines)


def write_json(path, payload):
    """Write ``payload`` as indented JSON, creating the directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=float)
