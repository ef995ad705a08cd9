"""AXF001: a file that cannot be parsed."""

from __future__ import annotations

from collections.abc import Iterator

from lint.findings import Finding
from lint.rules.base import Rule


class SyntaxErrorRule(Rule):
    """## What it does
    Reports a file that Python cannot parse (a syntax error, or bytes that are
    not valid UTF-8) as a finding at the position the parser gave up.

    ## Why is this bad?
    Every other rule reads the syntax tree, so a file that does not parse is
    a file nothing else was checked in. Reporting it as a finding, rather
    than crashing, keeps the rest of the run useful and still fails the gate.

    ## Example
    ```python
    @step
    def start(self)
        self.next(self.end)
    ```

    ## Use instead
    ```python
    @step
    def start(self):
        self.next(self.end)
    ```
    """

    code = "AXF001"
    name = "syntax-error"
    summary = "The file does not parse, so no other rule could check it."
    message = "cannot parse file: {reason}"

    def check(self, module) -> Iterator[Finding]:
        """A parsed module has no syntax error; the engine calls :meth:`from_error` instead."""
        return iter(())

    def from_error(self, path: str, error: SyntaxError | UnicodeDecodeError) -> Finding:
        """The finding for a file that failed to decode or parse."""
        if isinstance(error, SyntaxError):
            line, col, reason = error.lineno or 1, error.offset or 1, error.msg
        else:
            line, col, reason = 1, 1, f"not valid UTF-8 ({error.reason})"
        return Finding(path, line, max(col, 1), self.code, self.name, self.message.format(reason=reason))
