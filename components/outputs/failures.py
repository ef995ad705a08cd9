"""The one line that matters of a failed run, read back from its failed tasks.

A task that fails prints its reason, then a traceback (through every chained
exception), then Metaflow adds its own lines; in a 177-line log the reason is
easy to miss. Every failing axisflow step prints one line starting with
:data:`ERROR_PREFIX` before its traceback (see
:func:`components.engine.branch.run_branch`); :func:`failure_line` finds that
line (or, for a task that printed none, the exception line that ends its
traceback), so the shell can print it again as the launch's last line.
"""

from __future__ import annotations

import re
from typing import Any

from components.constants import ERROR_PREFIX

__all__ = ["failure_line", "reason_of"]
#: The last line of a Python traceback: ``SomeError: message`` (a dotted module path allowed).
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


def reason_of(log: str) -> str | None:
    """The reason a task's stderr ``log`` gives: its last ``axisflow: error:`` line, else its last exception line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    ours = [line[line.index(ERROR_PREFIX) + len(ERROR_PREFIX):] for line in lines if ERROR_PREFIX in line]
    if ours:
        return ours[-1]
    raised = [line for line in lines if _EXCEPTION.match(line)]
    return raised[-1] if raised else None


def failure_line(flow: str, run_id: str) -> str | None:
    """``axisflow: error: <reason> (task <pathspec> failed; its traceback is above)`` for a failed run, else ``None``."""
    from metaflow import Run

    run = Run(f"{flow}/{run_id}", _namespace_check=False)
    if run.successful:
        return None
    for task in _failed_tasks(run):
        reason = reason_of(task.stderr or "")
        if reason:
            return f"{ERROR_PREFIX}{reason} (task {task.pathspec} failed; its log is above)"
    return None


def _failed_tasks(run: Any) -> list[Any]:
    """The run's tasks that ran and did not succeed, in step order."""
    failed = []
    for step in reversed(list(run)):  # the Client lists steps newest first
        failed += [task for task in step if not task.successful]
    return failed
