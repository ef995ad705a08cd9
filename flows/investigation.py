"""The reference investigation as an axisflow shell.

1. ``start`` validates the composed config and plans the fan-out, reusing
   finished arms of earlier runs whose reuse key matches (``--reuse``).
2. ``branch`` runs once per task, a group of (data-axis values, seed) branches
   (``experiment.branches_per_task``; ``auto``: one task per local worker, one per
   branch on a scheduler): each branch generates its dataset once and trains every
   planned arm on it, returning a compact record.
3. ``join`` orders the records by branch key and aggregates them with bootstrap CIs.
4. ``end`` pins the versioned ``results`` artifact: the only source of conclusions.

Run: ``uv run flows/investigation.py run [key=value ...] [--max-workers N]``.
"""

import sys
from pathlib import Path

# Anchor on this file, so the flow imports this checkout's components/ from any folder and in a code package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metaflow import Config, FlowSpec, Parameter, card, current, step  # noqa: E402

from components.shell import CONFIG_NAME, DEFAULT_CONFIG, parse_config, prepare_argv, ship_project  # noqa: E402


@ship_project
class InvestigationFlow(FlowSpec):
    """Fan out over data axes x seed, train every method per branch, aggregate, pin the results."""

    config = Config(CONFIG_NAME, default_value=DEFAULT_CONFIG, parser=parse_config)
    reuse = Parameter("reuse", default="auto", help="auto: reuse finished arms of earlier runs; off: recompute all; verify: also recompute a sample")

    @step
    def start(self):
        """Validate the config, plan the branches (data-axis values x seed), look up reusable arms, deal the rest into tasks."""
        from components.engine.provenance import utc_now
        from components.engine.surface import plan_run, plan_tasks, reuse_run

        self.started_at = utc_now()
        self.plan, planned = plan_run(self.config.to_dict())
        self.branches, self.reused_records = reuse_run(self.config.to_dict(), planned, flow=current.flow_name, mode=self.reuse, run_id=current.run_id)
        self.tasks = plan_tasks(self.config.to_dict(), self.branches)
        self.contract = self.config.experiment.contract
        print(f"axisflow: {self.plan['branches']} branches, {self.plan['trainings']} trainings; "
              f"{len(self.branches)} branches to run in {len(self.tasks)} tasks")
        self.next(self.branch, foreach="tasks")

    @step
    def branch(self):
        """Generate each of this task's branches' dataset once and train every planned arm on it, reporting progress.

        The trained arms' test predictions stay on this task (``predictions``), never go to the join:
        a later run that reuses an arm scores them with its own secondary metrics.
        """
        from components.engine.branch import run_task

        # A run started before tasks carried several branches has one branch per input and no `tasks` (resumed here).
        sizes = [len(task) for task in getattr(self, "tasks", [])] or None
        self.branch_records, self.predictions = run_task(self.config.to_dict(), self.input, sizes=sizes)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect the branch records (and those assembled from reused arms) in canonical order and aggregate them."""
        from components.engine.checkpoint_store import clear_finished
        from components.engine.surface import aggregate_records, task_records

        self.merge_artifacts(inputs, include=["started_at", "reused_records"])
        self.records = sorted([*task_records(inputs), *self.reused_records], key=lambda r: r["order"])
        clear_finished(self.records)  # the branches tasks saved for resume: their artifacts hold them now
        self.aggregate = aggregate_records(self.config.to_dict(), self.records)
        self.next(self.end)

    @card(type="blank", id="report")
    @step
    def end(self):
        """Pin the output surface, draw the report card from it, and say where both live."""
        from components.outputs.report import render_card
        from components.engine.surface import build_results, provenance

        self.results = build_results(self.config.to_dict(), self.records, self.aggregate, provenance(self))
        render_card(current.card["report"], self.results, self.records)
        print(f"axisflow: results pinned at {current.pathspec}.results; read them with `uv run axisflow results`")


if __name__ == "__main__":
    sys.argv = prepare_argv(sys.argv, __file__)
    InvestigationFlow()
