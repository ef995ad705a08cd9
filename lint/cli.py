"""Command line: ``python -m lint PATH...`` and ``axisflow lint PATH...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import NoReturn

from lint.engine import check_paths
from lint.findings import SEVERITIES, LintError, format_statistics
from lint.formats import FORMATS, render
from lint.rules import RULES, rule_for

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        raise _UsageError(message)


def build_parser(prog: str = "axisflow lint") -> argparse.ArgumentParser:
    """The argument parser, shared by ``python -m lint`` and ``axisflow lint``."""
    parser = _Parser(
        prog=prog,
        description=(
            "Static checks for axisflow flows and components. Prints "
            "'path:line:col: CODE message' per finding; exits 0 when clean, 1 on "
            "findings, 2 on a usage, configuration or internal error. Settings come "
            "from [tool.axisflow.lint] in the nearest pyproject.toml. Silence one "
            "line with '# noqa: CODE'."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to lint")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--select", metavar="CODES", help="only these codes or prefixes, comma-separated (e.g. AXF1,AXF401)")
    parser.add_argument("--ignore", metavar="CODES", help="skip these codes or prefixes, comma-separated")
    parser.add_argument(
        "--statistics",
        action="store_true",
        help="print the number of findings per rule instead of the findings",
    )
    parser.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    return parser


def main(argv: list[str] | None = None, *, prog: str = "axisflow lint") -> int:
    """Run the linter on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        return _fail(prog, f"{error} (see --help)")
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else EXIT_CLEAN
    try:
        if args.explain is not None:
            print(rule_for(args.explain).explain(), end="")
            return EXIT_CLEAN
        if args.list_rules:
            print(_rule_table(args.format))
            return EXIT_CLEAN
        if not args.paths:
            return _fail(prog, "no paths given (usage: PATH... or --list-rules / --explain CODE)")
        findings = check_paths(args.paths, select=args.select, ignore=args.ignore)
    except LintError as error:
        return _fail(prog, str(error))
    except Exception as error:  # any crash is exit 2, never a silent pass
        return _fail(prog, f"internal error: {type(error).__name__}: {error}")
    try:
        output = format_statistics(findings, args.format) if args.statistics else render(findings, args.format)
    except LintError as error:  # --statistics has text and json only
        return _fail(prog, str(error))
    if output:
        print(output)
    if findings and args.format == "text":
        files = len({finding.path for finding in findings})
        counts = Counter(finding.severity for finding in findings)
        by_severity = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
        print(
            f"{len(findings)} finding(s) ({by_severity}) in {files} file(s); "
            "the run gate blocks on errors only.",
            file=sys.stderr,
        )
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _rule_table(fmt: str) -> str:
    if fmt == "json":
        rows = [{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary} for r in RULES]
        return json.dumps(rows, indent=2)
    width = max(len(rule.name) for rule in RULES)
    return "\n".join(
        f"{rule.code}  {rule.name:<{width}}  {rule.severity:<7}  {rule.summary}" for rule in RULES
    )
