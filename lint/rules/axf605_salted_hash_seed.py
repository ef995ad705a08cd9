"""AXF605: a seed computed with the builtin ``hash()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope
from lint.dataflow import dataflow_of
from lint.findings import Finding
from lint.rules.base import Rule
from lint.seeds import all_seed_arguments, salted_hash


class SaltedHashSeedRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a seed
    argument (see AXF603 for what counts as one: seeding calls, ``seed=`` and
    ``random_state=`` keywords, seam and helper seed parameters, seed-named
    positional arguments) whose value comes, through the shared data-flow,
    from the builtin ``hash()`` of anything that is not provably a number.

    ## Why is this bad?
    ``hash()`` of a ``str`` or ``bytes`` (and of a tuple holding one) is
    salted per process unless ``PYTHONHASHSEED`` is fixed. Every Metaflow
    task is a new process, so ``hash(f"{method}-{seed}")`` gives a different
    seed in every task and every run: the draw is not even reproducible from
    its own input, and two tasks of the same branch key disagree.

    ## Example
    ```python
    rng = np.random.default_rng(hash((self.method, self.seed)) % 2**32)
    ```

    ## Use instead
    ```python
    key = f"{self.method}-{self.seed}".encode()
    rng = np.random.default_rng(zlib.crc32(key))  # or np.random.SeedSequence([...])
    ```
    """

    code = "AXF605"
    name = "salted-hash-seed"
    summary = "A seed comes from the builtin hash(), which is salted per process."
    message = (
        "{sink} is seeded from hash({what}), which Python salts per process; "
        "derive it with zlib.crc32/hashlib or np.random.SeedSequence instead"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        reported: set[int] = set()
        for seed in all_seed_arguments(module):
            if id(seed.argument) in reported:
                continue
            for node in dataflow_of(module).sliced(seed.argument):
                found = salted_hash(module, node)
                if found is not None:
                    reported.add(id(seed.argument))
                    what = _text(found.args[0])
                    yield self.finding(module, seed.argument, sink=seed.sink, what=what)
                    break


def _text(node: ast.expr) -> str:
    """A short source spelling of an expression for a message."""
    shown = ast.unparse(node)
    return shown if len(shown) <= 40 else shown[:37] + "..."
