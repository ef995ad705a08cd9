"""What a reader gets from finished runs (layer 5 of ``components``).

* :mod:`~components.outputs.runs` -- finding runs through the Metaflow client, and launching flows.
* :mod:`~components.outputs.query` -- the pinned ``results`` as tables (text, CSV, JSON, Markdown).
* :mod:`~components.outputs.report` -- the Metaflow card and ``axisflow report`` (tables and plots).
* :mod:`~components.outputs.history` -- ``axisflow runs`` and ``axisflow diff``.
* :mod:`~components.outputs.seeds` -- ``axisflow seeds``: how many seeds a question needs.

Imports the layers below (base, stats, spec, engine); never a gate, the shell or the CLI.
"""
