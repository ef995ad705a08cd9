"""Near-miss suggestions for one-line errors: ``training.epocs`` gets "did you mean training.epochs?".

A tired researcher's commonest mistake is a misspelt key, option or name. An
error that only lists what is known makes them diff two lists by eye; one that
names the closest known spelling fixes the mistake in one read. This module
imports only the standard library, so every layer (statistics settings, config
checks, the CLI) uses the same rule.
"""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["CUTOFF", "closest", "did_you_mean"]

#: The lowest :class:`difflib.SequenceMatcher` ratio that counts as a near miss. 0.6 (difflib's own
#: default) matches one or two wrong, missing or swapped letters in a short key (``epocs``/``epochs``
#: 0.91, ``n_split``/``n_splits`` 0.93, ``methd``/``method`` 0.91) and refuses unrelated keys
#: (``dropout`` against every training key stays below 0.5).
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The known spelling nearest to ``word`` (case-insensitive), or ``None`` when nothing is a near miss.

    ``word`` itself never counts: a key that is known but not allowed in a
    place (``training.epochs`` set by a method) is a different mistake.
    """
    known = [str(c) for c in candidates if str(c) != word]
    by_lower: dict[str, str] = {}
    for name in known:
        by_lower.setdefault(name.lower(), name)
    match = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=CUTOFF)
    return by_lower[match[0]] if match else None


def did_you_mean(word: str, candidates: Iterable[str], prefix: str = "") -> str:
    """``"; did you mean <prefix><match>?"`` for the nearest known spelling, or ``""`` when there is none.

    ``prefix`` is the key path the match belongs under (``"training."``), so the
    suggestion is the full key to type.
    """
    match = closest(word, candidates)
    return f"; did you mean {prefix}{match}?" if match else ""
