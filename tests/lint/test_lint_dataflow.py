"""The shared data-flow: where values come from and whether they reach a result."""

import ast
import textwrap

from lint import check_source
from lint.analysis import Module
from lint.dataflow import dataflow_of
from lint.settings import Settings


def module_of(source: str, path: str = "components/sample.py") -> Module:
    source = textwrap.dedent(source)
    return Module(path, source, ast.parse(source), Settings())


def draws(module: Module) -> list[ast.Call]:
    return [call for call in module.calls if module.qualname(call.func) == "numpy.random.rand"]


HELPERS = """\
    import numpy as np

    SINK = []


    def keep(values):
        SINK.append(values)


    def show(values):
        print(values.shape)


    def sample():
        kept = np.random.rand(3)
        keep(kept)
        shown = np.random.rand(3)
        show(shown)
        rows = []
        rows.append(np.random.rand(3))
        return rows
"""


def test_reaches_result_follows_values_into_same_file_helpers_and_mutated_containers():
    module = module_of(HELPERS)
    assert [dataflow_of(module).reaches_result(call) for call in draws(module)] == [True, False, True]


def test_global_random_draw_only_inspected_in_a_helper_is_not_flagged_but_a_kept_one_is():
    findings = check_source(textwrap.dedent(HELPERS), "components/sample.py", select="AXF601")
    assert [f.line for f in findings] == [15, 20]


def test_slice_follows_a_seed_through_a_helper_return_and_tuple_unpacking():
    module = module_of(
        """\
        import time


        def clock():
            return int(time.time())


        def seeds():
            base, other = clock(), 3
            return base + other
        """
    )
    ret = next(node for node in module.nodes if isinstance(node, ast.Return) and isinstance(node.value, ast.BinOp))
    spelled = {module.qualname(n.func) for n in dataflow_of(module).slice(ret.value) if isinstance(n, ast.Call)}
    assert "time.time" in spelled


def test_values_resolves_fields_of_constructor_calls_and_dict_literal_keys():
    module = module_of(
        """\
        def plan():
            grid = {"lr": [0.1, 0.01], "epochs": [10]}
            made = Plan(branches=[1, 2], cells=grid["lr"])
            return made.branches, made.cells
        """
    )
    ret = next(node for node in module.nodes if isinstance(node, ast.Return))
    branches, cells = ret.value.elts
    assert [ast.unparse(v) for v, _, _ in dataflow_of(module).values(branches)] == ["[1, 2]"]
    assert [ast.unparse(v) for v, _, _ in dataflow_of(module).values(cells)] == ["[0.1, 0.01]"]


def test_seed_from_run_identity_through_a_same_file_helper_parameter_is_found_at_the_call(tmp_path):
    source = textwrap.dedent(
        """\
        import numpy as np
        from metaflow import FlowSpec, current, step


        def make_rng(seed):
            return np.random.default_rng(seed)


        class F(FlowSpec):
            @step
            def start(self):
                self.rng = make_rng(int(current.task_id))
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    (finding,) = check_source(source, "flows/f.py", select="AXF603")
    assert finding.line == 12
    assert "make_rng() (its 'seed' seeds numpy.random.default_rng)" in finding.message
