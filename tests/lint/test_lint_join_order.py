"""What AXF402's documentation claims about join order, checked against a real Metaflow run."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from lint import check_source, rule_for

STATIC_FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class StaticOrderFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b, self.c, self.d)

        @step
        def a(self):
            self.label = "a"
            self.next(self.join)

        @step
        def b(self):
            self.label = "b"
            self.next(self.join)

        @step
        def c(self):
            self.label = "c"
            self.next(self.join)

        @step
        def d(self):
            self.label = "d"
            self.next(self.join)

        @step
        def join(self, inputs):
            print("ORDER", ",".join(inp.label for inp in inputs))
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        StaticOrderFlow()
    """
)


def run_order(folder, hash_seed: int) -> str:
    """Run the static-branch flow at one worker under ``PYTHONHASHSEED`` and return the join's order."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": str(hash_seed),
        "METAFLOW_USER": "axisflow",
        "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(folder / f"datastore{hash_seed}"),
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "METAFLOW_DEFAULT_METADATA": "local",
    }
    result = subprocess.run(
        [sys.executable, "flow.py", "--quiet", "run", "--max-workers", "1"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"ORDER ([a-d,]+)", result.stdout + result.stderr)
    assert match, result.stdout[-2000:]
    return match.group(1)


def test_axf402_flags_the_static_branch_join_with_the_hash_seed_explanation():
    (finding,) = check_source(
        STATIC_FLOW.replace('print("ORDER", ",".join(', "self.order = list(").replace("inputs))", "inputs)"),
        "flows/static.py",
        select="AXF402",
    )
    assert "static branches" in finding.message and "PYTHONHASHSEED" in finding.message
    assert "inputs.a, inputs.b, inputs.c, inputs.d" in finding.message


@pytest.mark.slow
def test_static_branch_join_order_changes_with_pythonhashseed_as_axf402_explains(tmp_path):
    (tmp_path / "flow.py").write_text(STATIC_FLOW)
    orders = {run_order(tmp_path, 0), run_order(tmp_path, 1)}
    assert all(sorted(order.split(",")) == ["a", "b", "c", "d"] for order in orders)
    assert len(orders) == 2, f"static-branch join order did not change with PYTHONHASHSEED: {orders}"
    explanation = rule_for("AXF402").explain()
    assert "changes with ``PYTHONHASHSEED``" in explanation
