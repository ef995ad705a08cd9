"""AXF701: preprocessing fitted on a table that is split afterwards (train/test leakage)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope, self_attr
from lint.findings import Finding
from lint.rules.base import Rule

#: Modules whose classes learn statistics from the data they are fitted on.
FITTED_MODULES = (
    "sklearn.preprocessing.",
    "sklearn.impute.",
    "sklearn.decomposition.",
    "sklearn.feature_selection.",
    "sklearn.feature_extraction.",
)
#: Functions that fit and apply a transform in one call.
FITTING_FUNCTIONS = frozenset(
    f"sklearn.preprocessing.{name}"
    for name in ("scale", "minmax_scale", "maxabs_scale", "robust_scale", "quantile_transform", "power_transform")
)
#: Array reductions that become preprocessing statistics when taken over rows (``axis=0``).
ROW_STATISTICS = frozenset({"mean", "std", "var", "min", "max", "median", "nanmean", "nanstd"})
#: Table statistics that, passed to ``fillna``, impute from every row.
IMPUTE_STATISTICS = frozenset({"mean", "median", "mode", "std", "min", "max", "quantile"})
#: Calls that split rows into training and test parts.
SPLIT_CALLS = frozenset({"train_test_split", "cv_split", "table_split", "assign_folds"})


class FitBeforeSplitRule(Rule):
    """## What it does
    In flow files and files under a ``components/`` folder, flags preprocessing
    whose statistics are learnt from an array that the same function splits into
    training and test parts afterwards: a scikit-learn transformer's ``fit`` or
    ``fit_transform`` (``sklearn.preprocessing``, ``impute``, ``decomposition``,
    ``feature_selection``), the one-shot ``sklearn.preprocessing.scale`` family,
    any other object's ``fit_transform``/``fit`` (a project's own transformer,
    ``self.processor.fit_transform(X)``), column statistics such as
    ``X.mean(axis=0)``, and imputation from the table's own statistics
    (``df.fillna(df.mean())``). The table may be a column selection
    (``df[cols] = scaler.fit_transform(df[cols])`` learns from ``df``); a row
    selection (``X[train]``) is already split. "Split afterwards" means the
    table (or a value computed from it, an artifact included) is later indexed
    by rows (``X[train]``, ``X[:n]``) or passed to a splitter
    (``train_test_split``, ``cv_split``, a scikit-learn ``.split(X)``), in the
    same function or, through an artifact (``self.df = df``), in a later step
    of the flow.

    ## Why is this bad?
    The scaler, imputer or selector has seen the test rows: their means,
    variances or ranks leak into the training inputs, so test scores are
    optimistic, and under cross-validation every method is scored on folds
    that are no longer held out. Preprocessing is part of the method and is
    fitted on the training split only.

    ## Example
    ```python
    X = StandardScaler().fit_transform(X)
    X_train, X_test = X[train], X[test]
    ```

    ## Use instead
    ```python
    X_train, X_test = X[train], X[test]
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    # or make it part of the method: Pipeline([("scale", StandardScaler()), ("model", ...)])
    ```
    """

    code = "AXF701"
    name = "fit-before-split"
    summary = "Preprocessing is fitted on a table that is split into train and test afterwards."
    message = (
        "{what} learns from {name!r}, which is split into train/test afterwards (line {line}{where}); "
        "fit preprocessing on the training split only"
    )

    def check(self, module: Module) -> Iterator[Finding]:
        if not in_seeded_scope(module):
            return
        for func in [n for n in module.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            yield from self._check_function(module, func)

    def _check_function(self, module: Module, func: ast.AST) -> Iterator[Finding]:
        own = [n for n in _walk_own(func)]
        transformers = _transformer_names(module, own)
        for call in [n for n in own if isinstance(n, ast.Call)]:
            fitted = _fitted_name(module, call, transformers)
            if fitted is None:
                continue
            name, what = fitted
            tainted = _taint(own, {name}, call)
            split_line = _first_split(module, own, tainted, call.lineno)
            where = ""
            if split_line is None:
                # Across steps, only artifacts that hold the fitted result travel on: the table a
                # transformer was fitted on is unchanged unless the result is written back into it.
                carried = tainted - {name} | ({name} if name in _assigned_roots(module, call) else set())
                split_line, where = _later_step_split(module, func, carried)
            if split_line is not None:
                yield self.finding(module, call, what=what, name=name, line=split_line, where=where)


def _walk_own(func: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``func``'s body, not descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _is_transformer(module: Module, node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    qualified = module.qualname(node.func) or ""
    return qualified.startswith(FITTED_MODULES) and qualified not in FITTING_FUNCTIONS


def _transformer_names(module: Module, nodes: list[ast.AST]) -> set[str]:
    """Local names bound to a transformer instance (``scaler = StandardScaler()``)."""
    names = set()
    for node in nodes:
        if isinstance(node, ast.Assign) and _is_transformer(module, node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _spelled(node: ast.AST) -> str | None:
    """``"x"`` for a local name, ``"self.x"`` for an artifact, else None."""
    if isinstance(node, ast.Name):
        return node.id
    attr = self_attr(node)
    return f"self.{attr}" if attr is not None else None


def _root(node: ast.AST) -> str | None:
    """The table an expression reads: ``df`` for ``df[cols]``, ``df.values`` or ``df.Age``; ``self.df`` likewise."""
    while True:
        spelled = _spelled(node)
        if spelled is not None:
            return spelled
        if isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        else:
            return None


def _mentions(node: ast.AST) -> set[str]:
    """The local names and ``self.`` artifacts an expression reads."""
    found = set()
    for sub in ast.walk(node):
        spelled = _spelled(sub)
        if spelled is not None:
            found.add(spelled)
    return found


def _fitted_name(module: Module, call: ast.Call, transformers: set[str]) -> tuple[str, str] | None:
    """``(table, description)`` when ``call`` learns statistics from a whole table (not a row selection)."""
    func = call.func
    first = call.args[0] if call.args else None
    whole = first is not None and not (isinstance(first, ast.Subscript) and _row_selection(first))
    table = _root(first) if whole and first is not None else None
    if isinstance(func, ast.Attribute) and func.attr in ("fit", "fit_transform") and table is not None:
        receiver = func.value
        if isinstance(receiver, ast.Call) and _is_transformer(module, receiver):
            return table, f"{(module.qualname(receiver.func) or '').rsplit('.', 1)[-1]}().{func.attr}"
        if isinstance(receiver, ast.Name) and receiver.id in transformers:
            return table, f"{receiver.id}.{func.attr}"
        # Any other object's fit_transform / fit (a project's own transformer, a model) learns from it too.
        return table, f"{ast.unparse(receiver)}.{func.attr}"
    if (module.qualname(func) or "") in FITTING_FUNCTIONS and table is not None:
        return table, (module.qualname(func) or "").rsplit(".", 1)[-1]
    if isinstance(func, ast.Attribute) and func.attr == "fillna" and call.args:
        for sub in ast.walk(call.args[0]):
            if (
                isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                and sub.func.attr in IMPUTE_STATISTICS
            ):
                source = _root(sub.func.value)
                if source is not None and source.split(".")[0] not in module.imports:
                    return source, f"fillna({ast.unparse(sub)})"
    rows = any(k.arg == "axis" and isinstance(k.value, ast.Constant) and k.value.value == 0 for k in call.keywords)
    if rows and isinstance(func, ast.Attribute) and func.attr in ROW_STATISTICS:
        if isinstance(func.value, ast.Name) and func.value.id not in module.imports:
            return func.value.id, f"{func.value.id}.{func.attr}(axis=0)"
        qualified = module.qualname(func) or ""
        if qualified.startswith("numpy.") and isinstance(first, ast.Name):
            return first.id, f"np.{func.attr}({first.id}, axis=0)"
    return None


def _taint(nodes: list[ast.AST], names: set[str], fit: ast.expr | None) -> set[str]:
    """``names`` plus every local name or artifact assigned (after the fit) from an expression reading one."""
    tainted = set(names)
    after = fit.lineno if fit is not None else 0
    assignments = sorted(
        (n for n in nodes if isinstance(n, ast.Assign) and n.lineno >= after), key=lambda n: (n.lineno, n.col_offset)
    )
    for node in assignments:
        if _mentions(node.value) & tainted:
            for target in node.targets:
                for element in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                    root = _root(element.value if isinstance(element, ast.Starred) else element)
                    if root is not None:
                        tainted.add(root)
    return tainted


def _assigned_roots(module: Module, call: ast.Call) -> set[str]:
    """The tables the value of ``call`` is assigned into (``df[cols] = ...`` gives ``df``)."""
    parent = module.parents.get(call)
    if not isinstance(parent, ast.Assign):
        return set()
    return {root for target in parent.targets if (root := _root(target)) is not None}


def _later_step_split(module: Module, func: ast.AST, tainted: set[str]) -> tuple[int | None, str]:
    """A split, in a step that runs after ``func``, of an artifact the fit's result was stored in."""
    artifacts = {name for name in tainted if name.startswith("self.")}
    if not artifacts:
        return None, ""
    for flow in module.flow_classes:
        if flow.steps.get(getattr(func, "name", "")) is not func:
            continue
        for name in _reachable(flow, func.name):
            nodes = list(_walk_own(flow.steps[name]))
            line = _first_split(module, nodes, _taint(nodes, artifacts, None), 0)
            if line is not None:
                return line, f" in step '{name}'"
    return None, ""


def _reachable(flow, start: str) -> list[str]:
    """Steps after ``start`` in the flow graph, nearest first."""
    order: list[str] = []
    frontier = [target for target, _ in flow.successors.get(start, [])]
    while frontier:
        name = frontier.pop(0)
        if name in order or name == start or name not in flow.steps:
            continue
        order.append(name)
        frontier.extend(target for target, _ in flow.successors.get(name, []))
    return order


_SPLIT_WORDS = ("train", "test", "val", "fold", "split", "holdout")


def _row_selection(node: ast.Subscript) -> bool:
    """``X[a:b]``, or ``X[rows]`` whose index names a split part (``train``, ``test``, ``val``, ``fold`` ...).

    A column pick ``X[:, j]``, a key ``frame["col"]`` and a minibatch ``X[idx]`` are not splits.
    """
    index = node.slice
    if isinstance(index, ast.Tuple):
        index = index.elts[0] if index.elts else index
        if isinstance(index, ast.Slice) and index.lower is None and index.upper is None:
            return False
    if isinstance(index, ast.Constant):
        return False
    if isinstance(index, ast.Slice):
        return index.lower is not None or index.upper is not None
    spelled = {n.id for n in ast.walk(index) if isinstance(n, ast.Name)} | {n.attr for n in ast.walk(index) if isinstance(n, ast.Attribute)}
    return any(word in name.lower() for name in spelled for word in _SPLIT_WORDS)


def _first_split(module: Module, nodes: list[ast.AST], tainted: set[str], after: int) -> int | None:
    lines = []
    for node in nodes:
        if getattr(node, "lineno", 0) <= after:
            continue
        if isinstance(node, ast.Subscript) and _spelled(node.value) in tainted and _row_selection(node):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            callee = node.func
            spelled = callee.attr if isinstance(callee, ast.Attribute) else callee.id if isinstance(callee, ast.Name) else ""
            # A splitter function, or any ``.split(X)`` (scikit-learn's KFold and friends) given the array.
            splitter = spelled in SPLIT_CALLS or (spelled == "split" and isinstance(callee, ast.Attribute))
            args = [*node.args, *(k.value for k in node.keywords)]
            if splitter and any(_root(a) in tainted for a in args):
                lines.append(node.lineno)
    return min(lines) if lines else None
