"""Compare two finished runs' ``results`` and branch records field by field, outside what describes the run.

A refactor must not move a number: run the same experiment before and after it
(same datastore, ``--reuse off``), then

    cd DATASTORE_ROOT && uv run --project REPO python REPO/benchmarks/compare_runs.py InvestigationFlow/RUN_A InvestigationFlow/RUN_B

prints every differing field (the prove gate's own comparison, the same
exclusions) and exits 1 when any field differs. ``--ignore`` adds fnmatch
patterns over the differing paths, for fields that change with the code on
purpose: the arms' reuse keys hash the code, so a move changes them
(``--ignore 'records[*].provenance.arms[*].key'``), and a schema bump changes
the ``schema`` strings.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.engine.provenance import ensure_user  # noqa: E402
from components.gates.prove import _outputs, compare  # noqa: E402


def _literal_brackets(pattern: str) -> str:
    """``[`` and ``]`` in a pattern are the literal brackets of record paths, not fnmatch character classes."""
    return "".join({"[": "[[]", "]": "[]]"}.get(ch, ch) for ch in pattern)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", help="pathspec Flow/run_id of the earlier run")
    parser.add_argument("run_b", help="pathspec Flow/run_id of the later run")
    parser.add_argument("--ignore", action="append", default=[], metavar="PATTERN", help="fnmatch pattern over differing paths to leave out (repeatable)")
    parser.add_argument("--show", type=int, default=20, help="differences to print in full (default 20)")
    args = parser.parse_args(argv)
    ensure_user()
    from metaflow import Run

    outputs = [_outputs(Run(spec))[:2] for spec in (args.run_a, args.run_b)]
    (results_a, records_a), (results_b, records_b) = outputs
    differences = [
        d for d in compare(results_a, records_a, results_b, records_b)
        if not any(fnmatchcase(d.path, _literal_brackets(pattern)) for pattern in args.ignore)
    ]
    cells, paired = len(results_a.get("cells", [])), len(results_a.get("paired", []))
    print(f"{args.run_a} vs {args.run_b}: {len(records_a)} records, {cells} cells, {paired} paired rows compared; "
          f"{len(differences)} differing fields" + (f" (ignoring {', '.join(args.ignore)})" if args.ignore else ""))
    for field, count in Counter(d.field for d in differences).most_common():
        print(f"  {count:5d}  {field}")
    for d in differences[: args.show]:
        print(f"  {d.path}: {d.a} != {d.b}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
