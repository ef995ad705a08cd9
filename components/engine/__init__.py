"""What runs inside the flow (layer 4 of ``components``).

* :mod:`~components.engine.planner` -- the fan-out: branches (data axes x seed) and trainings.
* :mod:`~components.engine.reuse` -- reuse keys of finished arms and their look-up in earlier runs.
* :mod:`~components.engine.branch` -- one branch task: generate the data once, train every planned arm.
* :mod:`~components.engine.surface` -- what the shell's steps call: plan, aggregate, build ``results``.
* :mod:`~components.engine.provenance` -- code state, environment and timing of a run.
* :mod:`~components.engine.telemetry` -- progress and learning curves reported by the branch tasks.

Imports the base modules, :mod:`components.stats` and :mod:`components.spec`; never an output, a gate or the CLI.
"""
