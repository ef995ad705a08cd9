"""What an investigation is made of, and its checks (layer 3 of ``components``).

* :mod:`~components.spec.declarations` -- how an implementation declares the
  parameters it reads (typed ``Params``) and how a ``_target_`` is resolved.
* :mod:`~components.spec.seams` -- the four seams (``make_data``,
  ``build_model``, ``train_arm``, ``metric``) and the types that cross them.
* :mod:`~components.spec.config` -- Hydra composition and the typed check of
  the composed config at launch (``load_spec``, ``validate``).

Imports only the base modules and :mod:`components.stats` (whose settings the
config check validates). Importing this package runs nothing heavy.
"""
