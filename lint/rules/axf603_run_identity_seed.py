"""AXF603: a seed derived from the run's identity or the clock."""

from __future__ import annotations

from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope
from lint.dataflow import dataflow_of, params_in
from lint.findings import Finding
from lint.rules.base import Rule
from lint.seeds import all_seed_arguments, callers_binding, volatile_source


class RunIdentitySeedRule(Rule):
    """## What it does
    In flow files and in files under a ``components/`` folder, flags a seed
    computed from the run's identity or the clock rather than the branch
    key. The sources are Metaflow's ``current.task_id``, ``run_id``,
    ``pathspec``, ``retry_count`` and ``origin_run_id``; ``self.index`` (the
    foreach split index) in a flow; ``os.getpid()``; ``time.time()``,
    ``time.time_ns()``, ``time.perf_counter()``, ``time.monotonic()`` and
    ``datetime.now()``; ``threading.get_ident()``; ``uuid.uuid4()``. They are
    flagged when they reach a seed through the shared data-flow (local
    assignments, containers, comprehensions, ``self.`` artifacts, one level
    into helper functions and imported project modules, in either
    direction: a helper that returns ``int(time.time())``, or a helper whose
    seed parameter is given ``current.task_id``), at a seeding call:
    ``np.random.default_rng``, ``np.random.seed``, ``np.random.RandomState``,
    ``random.seed``, ``random.Random``, ``torch.manual_seed``,
    ``torch.cuda.manual_seed(_all)``, any ``.manual_seed(...)`` or
    ``.seed(...)`` method, a ``seed=``/``random_state=`` keyword of any call,
    the third positional argument of the ``make_data`` and ``train_arm``
    seams, a positional argument bound to a seed-named parameter of a helper,
    or a seed-named variable passed positionally to a function the linter
    cannot see (``train(data, seed)``). All
    import spellings resolve (``from metaflow import current as cur``,
    ``from time import time``, ``from numpy.random import default_rng``).
    ``self.input`` is the branch's own data and is fine; the clock used only
    for timing is fine.

    ## Why is this bad?
    Task ids, run ids, process ids and timestamps change with scheduling,
    retries, ``resume`` and remote execution, so the numbers drawn are no
    longer a function of the config. Metaflow's local runtime happens to
    number tasks in split order, so a rerun at the same worker count can
    agree with itself and the prove gate cannot always catch it.

    ## Example
    ```python
    rng = np.random.default_rng(int(current.task_id))
    ```

    ## Use instead
    ```python
    rng = np.random.default_rng(derive_seed(self.input["seed"], "data"))
    ```
    """

    code = "AXF603"
    name = "run-identity-seed"
    summary = "A seed is derived from the run's identity or the clock instead of the branch key."
    message = "{sink} is seeded from {source}, which changes between runs; derive the seed from the branch key"

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        reported: set[int] = set()
        for seed in all_seed_arguments(module):
            nodes = dataflow_of(module).sliced(seed.argument)
            source = _first_source(module, nodes)
            if source is not None:
                if id(seed.argument) not in reported:
                    reported.add(id(seed.argument))
                    yield self.finding(module, seed.argument, sink=seed.sink, source=source)
                continue
            for param in params_in(nodes):
                for call, argument in callers_binding(module, param):
                    source = _first_source(module, dataflow_of(module).sliced(argument))
                    if source is not None and id(argument) not in reported:
                        reported.add(id(argument))
                        sink = f"{param.function.name}() (its '{param.name}' seeds {seed.sink})"
                        yield self.finding(module, argument, sink=sink, source=source)


def _first_source(module: Module, nodes) -> str | None:
    for node in nodes:
        source = volatile_source(module, node)
        if source is not None:
            return source
    return None
