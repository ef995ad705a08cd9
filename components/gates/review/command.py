"""``axisflow review``: print the worksheet, a reviewer's brief, record a review, or check one (or all)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from components.gates.review.gate import prompt
from components.gates.review.records import ReviewError, check, first_line, shown_path, write_record
from components.gates.review.traps import TRAPS, worksheet_for
from components.spec.config import CONFIG_DIR, ConfigError
from components.suggest import did_you_mean

__all__ = ["register"]

def _experiment_files(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in (config_dir / "experiment").glob("*.yaml"))


def _parse_verdicts(items: Sequence[str]) -> dict[str, dict[str, str]]:
    out = {}
    for item in items:
        trap, sep, rest = item.partition("=")
        verdict, _, answer = rest.partition(":")
        if not sep or trap.strip() not in TRAPS:
            near = did_you_mean(trap.strip(), TRAPS) if sep else ""
            raise ReviewError(f"--verdict {item!r}: expected TRAP=pass:ANSWER or TRAP=fail:ANSWER{near} with TRAP one of {', '.join(TRAPS)}")
        out[trap.strip()] = {"verdict": verdict.strip(), "answer": answer.strip()}
    return out


def _load_answers(path: str) -> dict[str, Any]:
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        answers = yaml.safe_load(text)
    except OSError as exc:
        raise ReviewError(f"--answers {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ReviewError(f"--answers {path} is not valid YAML: {first_line(str(exc))}") from None
    if not isinstance(answers, dict) or "verdicts" not in answers:
        raise ReviewError(f"--answers {path} must be a mapping with 'verdicts' (and 'reviewer'); see axisflow review --prompt")
    return answers


def _cmd_review(args: argparse.Namespace) -> int:
    chosen = [name for name in ("prompt", "check", "record") if getattr(args, name)]
    if len(chosen) > 1:
        raise ReviewError(f"--{chosen[0]} and --{chosen[1]} cannot be combined")
    if args.all and not args.check:
        raise ReviewError("--all goes with --check")
    if args.check and args.all:
        if args.overrides:
            raise ReviewError("--check --all checks every configs/experiment/*.yaml; drop the overrides")
        bad = 0
        for name in _experiment_files():
            try:
                status = check(worksheet_for([f"experiment={name}"]))
                state, message = status.state, status.message
            except (ConfigError, ReviewError) as exc:
                state, message = "invalid", str(exc)
            bad += state != "reviewed"
            print(f"{'ok' if state == 'reviewed' else state}: experiment={name}: {message}")
        return 1 if bad else 0
    if not args.record and (args.reviewer or args.answers or args.verdict):
        raise ReviewError("--reviewer, --answers and --verdict go with --record")
    ws = worksheet_for(args.overrides)
    if args.record:
        answers = _load_answers(args.answers) if args.answers else {}
        verdicts = {**(answers.get("verdicts") or {}), **_parse_verdicts(args.verdict or [])}
        reviewer = args.reviewer or answers.get("reviewer")
        path = write_record(ws, reviewer, verdicts)
        status = check(ws)
        print(f"recorded {shown_path(path)} (fingerprint {ws.fingerprint}): {status.state}")
        return 0
    status = check(ws)
    if args.check:
        print(f"{'ok' if status.state == 'reviewed' else status.state}: {status.message}")
        return 0 if status.state == "reviewed" else 1
    print(prompt(ws, status) if args.prompt else ws.render(args.format, status))
    return 0


def register(sub: Any) -> None:
    """Add the ``review`` subcommand to the ``axisflow`` parser."""
    review = sub.add_parser(
        "review",
        help="the fidelity review: print the worksheet, a reviewer's brief (--prompt), record a review, or check one",
        description=(
            "Print the fidelity worksheet of the composed experiment: for each of the five traps (split convention, "
            "reshuffle symmetry, axes vs source, same name / different quantity, sweep-override inflation) the facts "
            "extracted from the config and the implementations' declarations, the flags, and the question a reviewer "
            "answers. --record stores the answers in reviews/<experiment>.yaml, bound to the facts; run, resume and a "
            "scheduler's create refuse to start while that record is missing or stale (unless --review-allow)."
        ),
    )
    review.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=smoke")
    review.add_argument("--format", default="text", choices=["text", "md", "json"], help="worksheet format (default text)")
    review.add_argument("--prompt", action="store_true", help="print a self-contained brief for a reviewer (person or agent)")
    review.add_argument("--check", action="store_true", help="exit 0 when the record is current, 1 when missing, stale or failing")
    review.add_argument("--all", action="store_true", help="with --check: every experiment under configs/experiment")
    review.add_argument("--record", action="store_true", help="record a review (with --reviewer and --answers FILE or --verdict)")
    review.add_argument("--reviewer", help="who reviewed (with --record)")
    review.add_argument("--answers", metavar="FILE", help="YAML answers in the --prompt format ('-' reads stdin)")
    review.add_argument(
        "--verdict", action="append", metavar="TRAP=pass|fail:ANSWER", help="one trap's verdict and answer (repeat for each trap)"
    )
    review.set_defaults(func=_cmd_review)
