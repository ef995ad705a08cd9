"""AXF602: a random generator created without a seed."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope, walk_body
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule

SEEDED_CONSTRUCTORS = frozenset(
    {"numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.SeedSequence",
     "random.Random"}
)


class UnseededGeneratorRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a random
    generator created without a seed: ``np.random.default_rng()``,
    ``np.random.RandomState()``, ``np.random.SeedSequence()`` and
    ``random.Random()`` with no argument (or ``None``), and a
    ``torch.Generator()`` that is never given ``.manual_seed(...)`` (chained,
    or on the local name it is assigned to in the same function). A generator
    whose draws reach no result (no artifact, return value, metric, log or
    file, followed through the shared data-flow) is not flagged.

    ## Why is this bad?
    An unseeded generator draws its seed from the operating system, so every
    run differs and no seed in the config or the branch key can reproduce
    it. It avoids the shared-state problem of AXF601 but not the
    irreproducibility.

    ## Example
    ```python
    rng = np.random.default_rng()
    ```

    ## Use instead
    ```python
    rng = np.random.default_rng(seed)  # seed derived from the branch key
    ```
    """

    code = "AXF602"
    name = "unseeded-generator"
    summary = "A random generator is created without a seed."
    message = "{call}() is created without a seed; pass one derived from the branch key"

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        for node in module.calls:
            qualified = module.qualname(node.func)
            if qualified in SEEDED_CONSTRUCTORS and _unseeded(node):
                pass
            elif qualified == "torch.Generator" and not _seeded_later(module, node):
                pass
            else:
                continue
            if dataflow_of(module).reaches_result(node):
                yield self.finding(module, node, call=qualified)


def _unseeded(call: ast.Call) -> bool:
    arguments = [*call.args, *(k.value for k in call.keywords if k.arg in {"seed", "x", "entropy", "a"})]
    if not arguments:
        return not call.keywords
    first = arguments[0]
    return isinstance(first, ast.Constant) and first.value is None


def _seeded_later(module: Module, call: ast.Call) -> bool:
    parent = module.parents.get(call)
    if isinstance(parent, ast.Attribute) and parent.attr == "manual_seed":
        return True
    if not isinstance(parent, ast.Assign):
        return False
    names = {t.id for t in parent.targets if isinstance(t, ast.Name)}
    scope = module.enclosing_function(call)
    nodes = walk_body(scope) if scope is not None else ast.walk(module.tree)
    return any(
        isinstance(sub, ast.Call)
        and isinstance(sub.func, ast.Attribute)
        and sub.func.attr == "manual_seed"
        and isinstance(sub.func.value, ast.Name)
        and sub.func.value.id in names
        for sub in nodes
    )
