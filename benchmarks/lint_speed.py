"""How fast the linter checks this repository, against the floor of parsing the same files.

The lint gate runs on every ``run``, ``resume`` and scheduler ``create``, so its
cost is paid at each launch. Both sides are measured in CPU time (the machine may
be shared), best of ``--repeats``, in one process and one invocation:

* **lint**: ``lint.check_paths`` on ``flows``, ``components`` and ``lint`` (the
  paths ``.ci/run`` lints), with the helper-module cache cleared each time;
* **parse floor**: ``ast.parse`` of the same files, which any AST linter pays.

    uv run python benchmarks/lint_speed.py
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _best(action, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        action()
        best = min(best, time.process_time() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    """Print the two CPU times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="best of this many (default 5)")
    args = parser.parse_args(argv)

    import lint.analysis
    from lint import check_paths

    paths = [ROOT / "flows", ROOT / "components", ROOT / "lint"]
    files = sorted(f for p in paths for f in p.rglob("*.py"))
    sources = [(f.read_text(), str(f)) for f in files]

    def lint_once() -> None:
        lint.analysis._LOADED.clear()
        check_paths(paths)

    def parse_once() -> None:
        for text, name in sources:
            ast.parse(text, filename=name)

    lint_once()  # imports the rules
    lint_cpu, parse_cpu = _best(lint_once, args.repeats), _best(parse_once, args.repeats)
    print(f"{len(files)} files; CPU seconds, best of {args.repeats}:")
    print(f"  lint (flows, components, lint): {lint_cpu:.3f}")
    print(f"  ast.parse of the same files:    {parse_cpu:.3f}")
    print(f"  lint / parse floor: {lint_cpu / parse_cpu:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
