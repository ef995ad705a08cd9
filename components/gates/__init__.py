"""The gates that stop a silent mistake before or after compute is spent (layer 6 of ``components``).

* :mod:`~components.gates.scaffold` -- prevent: ``axisflow new`` copies the load-bearing wiring.
* :mod:`~components.gates.review` -- review: the fidelity worksheet and the reviewer's record.
* :mod:`~components.gates.prove` -- prove: two runs at 1 and >= 2 workers, diffed bit for bit.

(The linter, the fourth gate, is its own package, ``lint``, below every layer here.)
Imports the layers below; never the shell or the CLI.
"""
