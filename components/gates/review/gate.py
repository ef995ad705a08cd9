"""The review gate in front of a launch, and the brief a reviewer (a person or an agent) answers.

:func:`gate` is what ``run``, ``resume`` and a scheduler's ``create`` call: a
missing, stale, failing or invalid record blocks the launch with one line
naming the traps (and facts) that changed, unless ``--review-allow
TRAP[,TRAP]`` (or ``all``) is given; the override is recorded in the run's
provenance. :func:`prompt` is the self-contained brief behind ``axisflow
review --prompt``.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

from components.gates.review.records import ReviewError, Status, check, shown_path
from components.gates.review.traps import TRAPS, Worksheet, build
from components.spec.config import ExperimentSpec
from components.suggest import did_you_mean

__all__ = ["ALL", "gate", "prompt"]

#: ``--review-allow all`` proceeds past every trap.
ALL = "all"


def gate(
    config: Mapping[str, Any],
    spec: ExperimentSpec,
    overrides: Sequence[str],
    allow: Sequence[str] = (),
    reviews_dir: Path | None = None,
) -> dict[str, Any]:
    """The review gate of a launch: the verdict to record in the run's launch metadata.

    Returns ``{"verdict": "reviewed" | "overridden", ...}``. Raises
    :class:`ReviewError` with one line when the record is missing, stale,
    failing or malformed and ``allow`` (trap names, or ``all``) does not cover
    every trap that blocks.
    """
    allow = sorted({a for a in allow})
    unknown = [a for a in allow if a not in TRAPS and a != ALL]
    if unknown:
        raise ReviewError(f"--review-allow {unknown[0]!r} is not a trap{did_you_mean(unknown[0], [*TRAPS, ALL])}; use {', '.join(TRAPS)} or {ALL}")
    ws = build(config, spec, overrides)
    status = check(ws, reviews_dir)
    info: dict[str, Any] = {
        "verdict": "reviewed",
        "experiment": ws.experiment,
        "fingerprint": ws.fingerprint,
        "record": shown_path(status.path),
        "reviewer": (status.record or {}).get("reviewer"),
        "reviewed_at": (status.record or {}).get("reviewed_at"),
        "allowed": allow,
    }
    if status.state == "reviewed":
        return info
    if ALL in allow or set(status.blocking) <= set(allow):
        return {**info, "verdict": "overridden", "state": status.state, "unreviewed": list(status.blocking), "reason": status.message}
    needed = ",".join(t for t in status.blocking if t not in allow)
    command = "uv run axisflow review " + " ".join(shlex.quote(o) for o in overrides)
    raise ReviewError(
        f"{status.message}; review it ({command.strip()} --prompt, then --record) or proceed explicitly with --review-allow {needed}"
    )


def prompt(ws: Worksheet, status: Status | None = None) -> str:
    """A self-contained brief for a reviewer (a person or an agent): the worksheet, the questions, the answer format."""
    command = [shlex.quote(o) for o in ws.overrides]
    answer = "\n".join(
        f"  {trap}:\n    verdict: pass    # or fail\n    answer: >-\n      <what you checked, against which file or fact, and why the verdict holds>"
        for trap in TRAPS
    )
    return "\n".join(
        [
            f"You are the fidelity reviewer of the axisflow experiment {ws.experiment!r}, before it runs.",
            "",
            "Five traps pass every mechanical check and still produce a number that looks reasonable and is wrong: the split",
            "convention, reshuffle symmetry, axes that do not match the source, one name for two quantities, and a selection",
            "budget (early stopping, a search, best-of-N) that differs between a method and its baseline. The worksheet below",
            "lists, for each trap, facts extracted mechanically from the composed config and from what the implementations",
            "declare, the flags a script raised, and the question you must answer. Flags are prompts, not verdicts: a flag",
            "may be intended (then say why it is right), and an unflagged trap may still be wrong. Read the files listed",
            "under 'read' (paths relative to the repository root) to check the declarations against the code. Judge intent:",
            "does the experiment measure what its question asks, the way its source did? Do not run anything.",
            "",
            ws.render("text", status),
            "",
            "Answer with YAML only, in exactly this shape (one entry per trap, verdict pass or fail, a non-empty answer):",
            "",
            "reviewer: <your name, or the agent and who ran it>",
            "verdicts:",
            answer,
            "",
            "The answers are recorded, bound to the fingerprint above, with:",
            "  " + " ".join(["uv run axisflow review", *command, "--record --answers ANSWERS.yaml"]),
        ]
    )
