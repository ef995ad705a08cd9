"""AXF701: preprocessing fitted on a table that is split afterwards (train/test leakage)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from lint.analysis import Module, in_seeded_scope
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
#: Calls that split rows into training and test parts.
SPLIT_CALLS = frozenset({"train_test_split", "cv_split", "table_split", "assign_folds"})


class FitBeforeSplitRule(Rule):
    """## What it does
    In flow files and files under a ``components/`` folder, flags preprocessing
    whose statistics are learnt from an array that the same function splits into
    training and test parts afterwards: a scikit-learn transformer's ``fit`` or
    ``fit_transform`` (``sklearn.preprocessing``, ``impute``, ``decomposition``,
    ``feature_selection``), the one-shot ``sklearn.preprocessing.scale`` family,
    and column statistics such as ``X.mean(axis=0)``. "Split afterwards" means
    the fitted array (or a value computed from it) is later indexed by rows
    (``X[train]``, ``X[:n]``) or passed to a splitter (``train_test_split``,
    ``cv_split``, a scikit-learn ``.split(X)``).

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
    message = "{what} learns from {name!r}, which is split into train/test afterwards (line {line}); fit preprocessing on the training split only"

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
            tainted = _taint(own, name, call)
            split_line = _first_split(module, own, tainted, call.lineno)
            if split_line is not None:
                yield self.finding(module, call, what=what, name=name, line=split_line)


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


def _fitted_name(module: Module, call: ast.Call, transformers: set[str]) -> tuple[str, str] | None:
    """``(array name, description)`` when ``call`` learns statistics from a plain local array."""
    func = call.func
    first = call.args[0] if call.args else None
    if isinstance(func, ast.Attribute) and func.attr in ("fit", "fit_transform") and isinstance(first, ast.Name):
        receiver = func.value
        if _is_transformer(module, receiver):
            return first.id, f"{module.qualname(receiver.func).rsplit('.', 1)[-1]}().{func.attr}"
        if isinstance(receiver, ast.Name) and receiver.id in transformers:
            return first.id, f"{receiver.id}.{func.attr}"
    if (module.qualname(func) or "") in FITTING_FUNCTIONS and isinstance(first, ast.Name):
        return first.id, module.qualname(func).rsplit(".", 1)[-1]
    rows = any(k.arg == "axis" and isinstance(k.value, ast.Constant) and k.value.value == 0 for k in call.keywords)
    if rows and isinstance(func, ast.Attribute) and func.attr in ROW_STATISTICS:
        if isinstance(func.value, ast.Name) and func.value.id not in module.imports:
            return func.value.id, f"{func.value.id}.{func.attr}(axis=0)"
        qualified = module.qualname(func) or ""
        if qualified.startswith("numpy.") and isinstance(first, ast.Name):
            return first.id, f"np.{func.attr}({first.id}, axis=0)"
    return None


def _taint(nodes: list[ast.AST], name: str, fit: ast.Call) -> set[str]:
    """``name`` plus every local name assigned (after the fit) from an expression that mentions a tainted name."""
    tainted = {name}
    assignments = sorted(
        (n for n in nodes if isinstance(n, ast.Assign) and n.lineno >= fit.lineno), key=lambda n: (n.lineno, n.col_offset)
    )
    for node in assignments:
        used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        if used & tainted:
            for target in node.targets:
                tainted |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return tainted


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
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in tainted and _row_selection(node):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            callee = node.func
            spelled = callee.attr if isinstance(callee, ast.Attribute) else callee.id if isinstance(callee, ast.Name) else ""
            # A splitter function, or any ``.split(X)`` (scikit-learn's KFold and friends) given the array.
            splitter = spelled in SPLIT_CALLS or (spelled == "split" and isinstance(callee, ast.Attribute))
            args = [*node.args, *(k.value for k in node.keywords)]
            if splitter and any(isinstance(a, ast.Name) and a.id in tainted for a in args):
                lines.append(node.lineno)
    return min(lines) if lines else None
