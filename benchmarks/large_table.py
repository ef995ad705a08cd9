"""What a large table costs at launch: ``axisflow plan`` time, peak memory and hash passes, before and after.

Writes a synthetic CSV of the requested size with the columns of
``data/breast_cancer.csv`` (its rows repeated, so the ``tabular_cv`` configs
read it unchanged through ``data.path``), then times
``axisflow plan experiment=tabular_cv data.path=<table>`` (15 branches, 5
methods: validation, planning and the reuse lookup) in two source trees:

* **before**: a detached git worktree of ``--before`` (default ``3e3cfdb``);
* **after**: this checkout.

Both run on this environment's interpreter, each in a fresh process whose
peak resident memory comes from ``os.wait4``. **Hash passes** count how much
the process fed to SHA-256, in multiples of the table's size (a wrapper around
``hashlib.sha256`` added before the CLI starts; source files and configs are
a rounding error next to the table).

    uv run python benchmarks/large_table.py                 # 1 GB (needs ~6 GB free memory before the fix)
    uv run python benchmarks/large_table.py --size 200MB
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "breast_cancer.csv"

# Runs the axisflow CLI in the tree on PYTHONPATH, counting the bytes hashed with SHA-256.
_CHILD = r"""
import atexit, hashlib, json, sys
_real = hashlib.sha256
_fed = [0]

class _Counting:
    def __init__(self, data=b"", **kw):
        self._h = _real(**kw)
        self.update(data)
    def update(self, data):
        _fed[0] += len(data)
        self._h.update(data)
    def __getattr__(self, name):
        return getattr(self._h, name)

hashlib.sha256 = _Counting
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(_fed[0])))
from components.cli import main
sys.exit(main(sys.argv[2:]))
"""


def parse_size(text: str) -> int:
    """``1GB``, ``200MB``, ``512KB`` or a byte count."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?B?)", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"--size {text!r}: use e.g. 1GB, 200MB or a byte count")
    scale = {"": 1, "B": 1, "KB": 1 << 10, "K": 1 << 10, "MB": 1 << 20, "M": 1 << 20, "GB": 1 << 30, "G": 1 << 30}[match.group(2)]
    return int(float(match.group(1)) * scale)


def write_table(path: Path, size: int) -> int:
    """Write ``SOURCE``'s header and its rows repeated until the file holds at least ``size`` bytes; return its size."""
    header, *rows = SOURCE.read_text().splitlines(keepends=True)
    block = "".join(rows).encode()
    with open(path, "wb") as out:
        out.write(header.encode())
        written = len(header)
        while written < size:
            out.write(block)
            written += len(block)
    return path.stat().st_size


def measure(tree: Path, table: Path, work: Path) -> dict[str, float]:
    """Run ``axisflow plan`` from ``tree``: seconds, peak RSS (MB) and bytes hashed."""
    counter = work / f"hashed-{tree.name}.json"
    env = {**os.environ, "PYTHONPATH": str(tree), "METAFLOW_USER": os.environ.get("METAFLOW_USER", "axisflow")}
    # A datastore of its own: the reuse lookup reads no earlier runs.
    cmd = [sys.executable, "-c", _CHILD, str(counter), "plan", "experiment=tabular_cv", f"data.path={table}"]
    started = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = child.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"plan failed in {tree}:\n{output[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "hashed_bytes": json.loads(counter.read_text())}


def main(argv: list[str] | None = None) -> int:
    """Write the table, measure both trees, print a table (and ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GB"), help="table size (default 1GB)")
    parser.add_argument("--before", default="3e3cfdb", help="git revision measured as 'before' (default 3e3cfdb)")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="axisflow-large-table-") as tmp:
        work = Path(tmp)
        table = work / "large.csv"
        size = write_table(table, args.size)
        before = work / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(before), args.before], check=True)
        try:
            results = {"before": measure(before, table, work), "after": measure(ROOT, table, work)}
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False)
    print(f"table: {size / 2**20:.0f} MiB ({table.name}); load: {os.getloadavg()[0]:.1f} (1-min average)")
    print(f"{'tree':<8}{'plan s':>9}{'peak RSS MB':>13}{'hash passes':>13}")
    for name, row in results.items():
        print(f"{name:<8}{row['seconds']:>9.1f}{row['peak_rss_mb']:>13.0f}{row['hashed_bytes'] / size:>13.1f}")
    if args.json:
        print(json.dumps({"size": size, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
