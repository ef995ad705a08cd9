"""Name -> implementation tables that configs pick from.

Entries are ``"module:attribute"`` strings resolved on first use, so validating a
config (at launch, in the CLI) never imports torch. To add an implementation,
write the function and add one line to the right table.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["CALLBACKS", "DATA", "METRICS", "MODELS", "TRAINERS", "resolve"]

#: make_data implementations, selected by ``data.generator``.
DATA = {
    "teacher": "components.data:teacher",
}
#: build_model implementations, selected by ``method.<name>.model.arch``.
MODELS = {
    "linear": "components.models:linear",
    "mlp": "components.models:mlp",
}
#: train_arm implementations, selected by ``method.<name>.impl``.
TRAINERS = {
    "logreg": "components.training:train_logreg",
    "torch_classifier": "components.training:train_torch_classifier",
}
#: metric implementations, selected by ``experiment.metric.name``.
METRICS = {
    "auroc": "components.metrics:auroc",
    "accuracy": "components.metrics:accuracy",
}
#: training callbacks, selected by ``method.<name>.callbacks[].name``.
CALLBACKS = {
    "early_stopping": "components.callbacks:EarlyStopping",
}


def resolve(table: dict[str, str], name: str, what: str) -> Callable[..., Any]:
    """Import and return the implementation registered as ``name`` in ``table``.

    ``what`` names the config key in the error, e.g. ``"data.generator"``.
    """
    try:
        target = table[name]
    except KeyError:
        raise KeyError(f"{what} {name!r} is not registered; known: {', '.join(sorted(table))}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
