"""The base class every rule derives from."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from lint.findings import Finding

if TYPE_CHECKING:
    from lint.analysis import Module


class Rule:
    """One check with a stable code.

    Subclasses set ``code`` (``AXF`` + three digits), ``name`` (kebab-case),
    ``summary`` (one line for ``--list-rules``) and ``message`` (a
    ``str.format`` template) and ``severity`` (the default for its findings,
    ``"error"`` unless the rule reports scope findings), write the documentation as the class docstring
    (sections *What it does*, *Why is this bad?*, *Example*, *Use instead*)
    and implement :meth:`check`.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    message: ClassVar[str] = ""
    severity: ClassVar[str] = "error"

    def check(self, module: Module) -> Iterator[Finding]:
        """Yield the findings of this rule in one parsed module."""
        raise NotImplementedError

    def finding(
        self, module: Module, node: ast.AST, *, severity: str | None = None, **fields: object
    ) -> Finding:
        """A finding at ``node`` with the message template filled from ``fields``.

        ``severity`` overrides the rule's default for this one finding.
        """
        return Finding(
            path=module.path,
            line=node.lineno,  # type: ignore[attr-defined]  # every node a rule reports is positioned
            col=node.col_offset + 1,  # type: ignore[attr-defined]
            code=self.code,
            name=self.name,
            message=self.message.format(**fields),
            severity=severity or self.severity,
        )

    def explain(self) -> str:
        """The rule's documentation as printed by ``--explain``."""
        return f"{self.code} ({self.name})\n\n{inspect.cleandoc(self.__doc__ or '')}\n"
