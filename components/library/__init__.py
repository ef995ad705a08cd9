"""Reusable seam implementations: trainers, models, metrics and callbacks that any investigation can name.

Nothing here is specific to one investigation's question; an investigation's own
generators (and anything else it alone needs) live in
``components/investigations/<name>/``. Every implementation is declared with
:mod:`components.spec.declarations` and named in configs by import path, e.g.
``_target_: components.library.metrics.auroc``.
"""
