"""The one typed schema of what a run produces: branch records (branch -> join) and the pinned ``results``.

Producers (:mod:`components.engine.branch`, :mod:`components.engine.surface`), consumers
(queries, report, history, prove) and tests use these types; :func:`check_record`
and :func:`check_results` validate a value against them (strictly: a missing
field, a wrong type or a misspelt key fails, naming the field).

Bump :data:`RESULTS_SCHEMA` (or :data:`RECORD_SCHEMA`) whenever a field is added,
removed or changes meaning.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import NotRequired, TypedDict  # pydantic validates typing.TypedDict only on Python >= 3.12

from components.constants import RECORD_SCHEMA, RESULTS_SCHEMA

__all__ = [
    "RECORD_SCHEMA",
    "RESULTS_SCHEMA",
    "RUN_FIELDS",
    "ArmOrigin",
    "BranchRecord",
    "CellRow",
    "Failure",
    "MetricBlock",
    "Observation",
    "PairedRow",
    "Results",
    "Timing",
    "TrainingRecord",
    "check_record",
    "check_results",
    "comparable",
]

#: Fields of ``results`` that describe this run rather than the investigation: ``provenance`` (where,
#: when, from which code, what was reused) and ``work`` (seam calls made in this run). Two runs of the
#: same config and code, whether or not one reused the other's arms, agree bit for bit on every other field.
RUN_FIELDS = ("provenance", "work")


class Observation(TypedDict):
    """One measured value: a (cell, method, seed) of the metric on the test split.

    ``failure`` (only on an arm that failed a seam check under ``nan_policy:
    omit``; its ``value`` is NaN) is the one-line reason naming the arm and field.
    """

    axes: dict[str, Any]
    method: str
    seed: int
    value: float
    failure: NotRequired[str]


class TrainingRecord(TypedDict):
    """One ``train_arm`` call in a branch: the arm, its seed, the test metric, validation score and telemetry."""

    method: str
    train_axes: dict[str, Any]
    seed: int
    value: float
    val_score: float
    info: dict[str, Any]
    history: dict[str, list[float]]
    #: Only on a failed arm (see :class:`Observation`): why it failed, in one line.
    failure: NotRequired[str]
    #: Rows the trainer was handed to fit on: the training split, plus the validation rows when it uses no validation
    #: split and they come from the training part (``components.spec.seams.fit_data``).
    fit_rows: NotRequired[int]


class Timing(TypedDict):
    """Wall-clock facts of a branch (excluded when runs are compared)."""

    started_at: float
    finished_at: float
    import_seconds: float
    data_seconds: float
    training_seconds: list[float]
    branch_seconds: float


class ArmOrigin(TypedDict):
    """Where one arm's numbers come from: its reuse key, ``trained``/``verified``/``reused``, and the run and task that trained it."""

    key: str
    origin: str
    run: str | None
    task: str | None


class RecordProvenance(TypedDict):
    """The task that ran the branch (``None`` when every arm was reused and no task ran) and each arm's origin."""

    task: str | None
    arms: list[ArmOrigin]


class BranchRecord(TypedDict):
    """What one foreach branch hands the join: compact scalars, never a model or tensor."""

    schema: str
    key: str
    order: list[int]
    data_axes: dict[str, Any]
    seed_index: int
    seed: int
    data_fingerprint: str
    trainings: list[TrainingRecord]
    observations: list[Observation]
    counts: dict[str, int]
    timing: Timing
    provenance: RecordProvenance


class MetricBlock(TypedDict):
    """The reported metric as the experiment names it and as its implementation declares it."""

    name: str
    target: str
    higher_is_better: bool
    range: list[float | None]
    definition: str
    split: str


class CellRow(TypedDict, total=False):
    """One (axis values, method) cell: mean over seeds with its interval and the per-seed values.

    Statistics are ``None`` where nothing can be estimated (e.g. every seed of
    the cell failed under ``nan_policy: omit``; the row's ``note`` says why).
    """

    axes: dict[str, Any]
    method: str
    n: int
    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None
    values: list[float]
    seeds: list[int]


class PairedRow(TypedDict, total=False):
    """One comparison on the same seeds (method vs baseline in a cell, or a declared contrast) with its verdict.

    ``verdict`` is family-wise (see ``results["statistics"]["multiplicity"]``),
    ``verdict_per_row`` the row's own; ``p_value``/``p_adjusted`` are the raw
    and family-adjusted p-values; ``wins`` counts seeds where the method did better.
    """

    axes: dict[str, Any]
    method: str
    baseline: str
    n: int
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    diffs: list[float]
    seeds: list[int]
    p_value: float | None
    p_adjusted: float | None
    verdict: str | None
    verdict_per_row: str | None
    wins: float | None
    p_improve: float | None
    contrast: dict[str, Any]
    name: str
    reference: Any


class Failure(TypedDict):
    """An arm recorded as failed under ``nan_policy: omit``: its cell, method, seed index and one-line reason."""

    axes: dict[str, Any]
    method: str
    seed: int
    failure: str


class Results(TypedDict):
    """The pinned ``results`` artifact of a run's ``end`` step: the only source of conclusions."""

    schema: str
    experiment: str
    question: str
    contract: str
    config: dict[str, Any]
    config_hash: str | None
    overrides: list[str]
    axes: dict[str, dict[str, list[Any]]]
    metric: MetricBlock
    task: str
    baseline: str
    methods: list[str]
    kinds: dict[str, str]
    seeds: int
    plan: dict[str, int]
    #: Seam calls made in this run (``make_data``, ``train_arm``, ``train_arm:<method>``, ``metric``); see :data:`RUN_FIELDS`.
    work: dict[str, int]
    data_fingerprints: dict[str, str]
    dataset: dict[str, Any] | None
    cross_validation: dict[str, Any] | None
    statistics: dict[str, Any]
    cells: list[CellRow]
    paired: list[PairedRow]
    contrasts: list[PairedRow]
    provenance: dict[str, Any]
    #: Present only when an arm failed a seam check under ``nan_policy: omit``.
    failures: NotRequired[list[Failure]]
    #: ``{method: [fewest, most]}`` rows each method's trainer was handed to fit on (``TrainingRecord.fit_rows``).
    fit_rows: NotRequired[dict[str, list[int]]]


def _check(kind: type, value: Any, what: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(kind).validate_python(value, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{what}.{where}: {error['msg']}") from None
    extra = set(value) - (kind.__required_keys__ | kind.__optional_keys__)
    if extra:
        raise ValueError(f"{what} has field(s) the schema does not know: {', '.join(sorted(extra))}")


def check_record(record: Any) -> None:
    """Raise ``ValueError`` naming the first field where ``record`` departs from :class:`BranchRecord`."""
    _check(BranchRecord, record, "record")


def check_results(results: Any) -> None:
    """Raise ``ValueError`` naming the first field where ``results`` departs from :class:`Results`."""
    _check(Results, results, "results")


def comparable(results: Any) -> dict[str, Any]:
    """``results`` without :data:`RUN_FIELDS`: the part two runs of the same investigation must agree on bit for bit."""
    return {key: value for key, value in results.items() if key not in RUN_FIELDS}
