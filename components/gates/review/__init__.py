"""The review gate: a worksheet of fidelity facts, a reviewer's record bound to them, and the check before a run.

Five fidelity traps pass every mechanical check and still give a number that
looks reasonable and is wrong: the split convention, reshuffle symmetry, axes
that do not match the source, one name for two quantities, and a selection
budget (a sweep, early stopping, best-of-N) the baseline does not get. The
package keeps its four concerns apart, lowest first:

* :mod:`~components.gates.review.scanner` -- reads a declared source script
  and module files with ``ast`` (the linter's helpers), never importing them.
* :mod:`~components.gates.review.traps` -- :func:`build` turns a composed
  config into a :class:`Worksheet`: per trap, the facts a review is bound to,
  the lines that show them, the flags and the question.
* :mod:`~components.gates.review.records` -- the record store
  (``reviews/<experiment>.yaml``) and :func:`check`, how a worksheet stands
  against its record.
* :mod:`~components.gates.review.gate` and
  :mod:`~components.gates.review.command` -- the gate ``run``, ``resume`` and
  a scheduler's ``create`` call, the reviewer's brief, and ``axisflow review``
  (see :func:`register`).
"""

from components.gates.review.command import register
from components.gates.review.gate import ALL, gate, prompt
from components.gates.review.records import (
    RECORD_SCHEMA,
    REVIEWS_DIR,
    VERDICTS,
    ReviewError,
    Status,
    check,
    read_record,
    record_path,
    write_record,
)
from components.gates.review.traps import QUESTIONS, TRAPS, Section, Worksheet, build, worksheet_for

__all__ = [
    "ALL",
    "QUESTIONS",
    "RECORD_SCHEMA",
    "REVIEWS_DIR",
    "TRAPS",
    "VERDICTS",
    "ReviewError",
    "Section",
    "Status",
    "Worksheet",
    "build",
    "check",
    "gate",
    "prompt",
    "read_record",
    "record_path",
    "register",
    "worksheet_for",
    "write_record",
]
