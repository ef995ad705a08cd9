"""Messages and options that must fit the flow they describe: statistics, join order, sweeps."""

import json
import textwrap

from lint import check_source, rule_for
from lint.cli import main
from lint.findings import format_statistics

SWEEP = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class Sweep(FlowSpec):
        @step
        def start(self):
            self.x_train = load()
            epochs = 10
            self.configs = [{"lr": lr, "epochs": epochs} for lr in [0.1, 0.01]]
            self.next(self.train, foreach="configs")

        @step
        def train(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)

STATIC_JOIN = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step


    class Static(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.score = 1.0
            self.next(self.join)

        @step
        def b(self):
            self.score = 2.0
            self.next(self.join)

        @step
        def join(self, inputs):
            self.scores = [inp.score for inp in inputs]
            self.next(self.end)

        @step
        def end(self):
            pass
    """
)


def test_axf301_sweep_over_upstream_data_names_only_the_varying_key_and_says_generic_flows_may_sweep():
    (finding,) = check_source(SWEEP, "flows/sweep.py", select="AXF301")
    assert "varying: lr" in finding.message
    assert "epochs" not in finding.message
    assert "loaded once upstream in 'start'" in finding.message
    assert "axisflow convention" in finding.message


def test_axf402_static_branch_join_message_names_hash_seed_order_and_named_inputs():
    (finding,) = check_source(STATIC_JOIN, "flows/static.py", select="AXF402")
    assert "PYTHONHASHSEED" in finding.message
    assert "inputs.a, inputs.b" in finding.message


def test_axf402_foreach_join_message_says_split_order_is_version_dependent():
    source = STATIC_JOIN.replace("self.next(self.a, self.b)", 'self.items = [1, 2]\n        self.next(self.a, foreach="items")')
    source = source.replace("self.next(self.join)\n\n    @step\n    def b", "self.next(self.join)\n\n    def b")
    findings = check_source(source, "flows/foreach.py", select="AXF402")
    assert findings and "foreach join: split order only on Metaflow 2.19.23+" in findings[0].message


def test_axf402_explain_states_when_metaflow_orders_join_inputs():
    text = rule_for("AXF402").explain()
    assert "**foreach** join receives its inputs in split order" in text
    assert "**static branches**" in text and "PYTHONHASHSEED" in text


def test_axf402_rows_carrying_their_key_are_told_to_sort_by_it():
    source = STATIC_JOIN.replace(
        "[inp.score for inp in inputs]", '[{"seed": inp.seed, "score": inp.score} for inp in inputs]'
    )
    (finding,) = check_source(source, "flows/static.py", select="AXF402")
    assert "each row carries its key 'seed', so sort the rows by it" in finding.message


def test_statistics_counts_findings_per_rule_most_frequent_first():
    findings = check_source(STATIC_JOIN + SWEEP.replace("class Sweep", "class Sweep2"), "flows/f.py")
    text = format_statistics(findings)
    rows = [line.split() for line in text.splitlines()]
    counts = [int(row[0]) for row in rows]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == len(findings)
    assert {row[1] for row in rows} == {f.code for f in findings}


def test_cli_statistics_prints_counts_instead_of_findings_and_keeps_the_exit_code(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.axisflow.lint]\n")
    flow = tmp_path / "flow.py"
    flow.write_text(STATIC_JOIN)
    assert main(["--statistics", str(flow)]) == 1
    out = capsys.readouterr().out
    assert out.split() == ["1", "AXF402", "join-arrival-order"]
    assert main(["--statistics", "--format", "json", str(flow)]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"code": "AXF402", "name": "join-arrival-order", "count": 1}
    ]


def test_cli_statistics_on_a_clean_file_prints_nothing_and_exits_0(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[tool.axisflow.lint]\n")
    clean = tmp_path / "clean.py"
    clean.write_text("def add(a, b):\n    return a + b\n")
    assert main(["--statistics", str(clean)]) == 0
    assert capsys.readouterr().out == ""


def test_axf601_torch_seed_later_in_a_step_names_the_step_and_the_task_start_fix():
    source = textwrap.dedent(
        """\
        import torch
        from metaflow import FlowSpec, step


        class F(FlowSpec):
            @step
            def start(self):
                self.noise = torch.randn(3)
                torch.manual_seed(self.seed)
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    seeded = [f for f in check_source(source, "flows/f.py", select="AXF601") if f.message.startswith("torch.manual_seed")]
    (finding,) = seeded
    assert "in step 'start'" in finding.message
    assert "make it the step's first statement with a seed from the config or the branch" in finding.message


def test_axf604_message_names_the_step_and_random_state():
    source = textwrap.dedent(
        """\
        from metaflow import FlowSpec, step
        from sklearn.model_selection import train_test_split


        class F(FlowSpec):
            @step
            def start(self):
                self.parts = train_test_split([1, 2, 3, 4])
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    (finding,) = check_source(source, "flows/f.py", select="AXF604")
    assert finding.message.startswith("train_test_split() in step 'start' has no random_state")
