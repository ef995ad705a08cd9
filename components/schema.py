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

from pydantic import ConfigDict, with_config
from typing_extensions import NotRequired, Required, TypedDict  # pydantic validates typing.TypedDict only on Python >= 3.12

from components.constants import RECORD_SCHEMA, RESULTS_SCHEMA

__all__ = [
    "RECORD_SCHEMA",
    "RESULTS_SCHEMA",
    "RUN_FIELDS",
    "Aggregate",
    "ArmOrigin",
    "BranchRecord",
    "CellRow",
    "ClassRate",
    "Confusion",
    "Failure",
    "MetricBlock",
    "Observation",
    "PerExampleValues",
    "PairedRow",
    "PerClassRow",
    "Results",
    "SecondaryMetric",
    "SeedSummary",
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


class PerExampleValues(TypedDict):
    """Nested cross-validation's per-example metric values of one arm: on the test fold, and on the inner folds in order."""

    outer: list[float]
    inner: list[float]


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
    #: Only under ``cv_interval: nested``: the arm's per-example values (:class:`PerExampleValues`).
    per_example: NotRequired[PerExampleValues]
    #: ``{name: value}`` of every secondary metric (``experiment.secondary_metrics``), only when the experiment declares some.
    secondary: NotRequired[dict[str, float]]
    #: Only when the metric declares one: its step on this test split (``TrainingRecord.resolution``).
    resolution: NotRequired[float]


class Confusion(TypedDict):
    """One arm's confusion matrix on the test split (:func:`components.spec.confusion.confusion`).

    ``counts[i][j]`` examples of class ``i`` were predicted ``j``; ``classes``
    names the classes in id order (the dataset's names, else ``"0"``,
    ``"1"``...); ``threshold`` is the binary decision threshold applied, ``None``
    for a multiclass argmax.
    """

    classes: list[str]
    counts: list[list[int]]
    threshold: float | None


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
    #: Only under ``cv_interval: nested``: per-example values of the arm's outer and inner fits.
    per_example: NotRequired[PerExampleValues]
    #: ``{name: value}`` of every secondary metric on the test split, only when the experiment declares some; a reused
    #: arm's are scored in this run from the test predictions the training task stored (NaN for a failed arm).
    secondary: NotRequired[dict[str, float]]
    #: Under ``nan_policy: omit``: ``{name: reason}`` of each secondary metric that failed its seam check on this arm (value NaN).
    secondary_failures: NotRequired[dict[str, str]]
    #: Only when the metric declares a resolution (``components.spec.declarations.MetricInfo``): the smallest step
    #: the metric can take on this arm's test split, e.g. ``1/n_test`` for accuracy.
    resolution: NotRequired[float]
    #: Binary and multiclass tasks, on an arm that trained (or was reused) without failing: its test confusion matrix.
    confusion: NotRequired[Confusion]


class Timing(TypedDict):
    """Wall-clock facts of a branch (excluded when runs are compared)."""

    started_at: float
    finished_at: float
    import_seconds: float
    data_seconds: float
    training_seconds: list[float]
    branch_seconds: float
    #: Only on a branch that finished in a task that then failed, taken by the task that ``resume`` re-ran: the failed run's id.
    resumed_from: NotRequired[str]


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


@with_config(ConfigDict(extra="forbid"))
class MetricBlock(TypedDict):
    """The reported metric as the experiment names it and as its implementation declares it."""

    name: str
    target: str
    higher_is_better: bool
    range: list[float | None]
    definition: str
    split: str


@with_config(ConfigDict(extra="forbid"))
class SeedSummary(TypedDict, total=False):
    """Mean over seeds with its interval and the per-seed values: the fields a cell and a class's rate share."""

    n: Required[int]
    mean: Required[float | None]
    std: Required[float | None]
    ci_low: Required[float | None]
    ci_high: Required[float | None]
    values: Required[list[float]]
    seeds: Required[list[int]]
    note: str
    n_dropped: int
    folds: int
    fold_values: list[list[float]]


@with_config(ConfigDict(extra="forbid"))
class CellRow(SeedSummary, total=False):
    """One (axis values, method) cell: mean over seeds with its interval and the per-seed values.

    ``ci_low``/``ci_high`` are ``None`` (with a ``note``) when the cell has no
    interval, and ``mean``/``std`` too when nothing can be estimated (every seed of
    the cell failed under ``nan_policy: omit``); ``n_dropped`` counts values dropped under ``nan_policy: omit``.
    Under cross-validation ``values`` are each replicate's mean over its folds,
    ``fold_values`` the fold scores (replicates x folds) and ``folds`` their number.
    """

    axes: Required[dict[str, Any]]
    method: Required[str]


@with_config(ConfigDict(extra="forbid"))
class PairedRow(TypedDict, total=False):
    """One comparison on the same seeds (method vs baseline in a cell, or a declared contrast) with its verdict.

    A paired row names its ``baseline``; a contrast row its ``contrast`` (the
    declared name), ``kind`` (``axis``/``method``) and ``reference`` (the
    reference method, or ``{axis: reference value}``). ``verdict`` is
    family-wise (see ``results["statistics"]["multiplicity"]``),
    ``verdict_per_row`` the row's own; ``p_value``/``p_adjusted`` are the raw
    and family-adjusted p-values, ``p_signflip`` the exact sign-flip test's
    (the row's ``p_value`` when all its differences are equal and it has no
    interval); ``wins`` counts seeds where the method did
    better. Under cross-validation ``diffs`` are per replicate, ``fold_diffs``
    per (replicate, fold).
    """

    axes: Required[dict[str, Any]]
    method: Required[str]
    baseline: str
    contrast: str
    kind: str
    reference: Any
    n: Required[int]
    mean_diff: Required[float | None]
    ci_low: Required[float | None]
    ci_high: Required[float | None]
    p_value: Required[float | None]
    p_signflip: Required[float | None]
    p_adjusted: Required[float | None]
    wins: Required[float | None]
    p_improve: Required[float | None]
    verdict: Required[str | None]
    verdict_per_row: Required[str | None]
    diffs: Required[list[float]]
    seeds: Required[list[int]]
    note: str
    folds: int
    fold_diffs: list[list[float]]


@with_config(ConfigDict(extra="forbid"))
class ClassRate(SeedSummary, total=False):
    """One class's recall (or precision) in a cell: mean over seeds with its interval and the per-seed values.

    Laid out as :class:`CellRow` without ``axes``/``method``: the experiment's
    interval over the per-seed rates (per replicate under cross-validation,
    with ``fold_values``). ``n_dropped`` counts seeds (folds) where the rate is
    undefined -- recall of a class absent from the test split, precision of a
    class never predicted -- or whose arm failed.
    """


@with_config(ConfigDict(extra="forbid"))
class PerClassRow(TypedDict):
    """Per-class results of one (axis values, method) cell of a classification experiment.

    ``confusion`` is the sum of the cell's arms' confusion matrices (rows the
    true class, columns the predicted one; ``arms`` of them, over seeds and
    folds); ``recall``/``precision`` hold one :class:`ClassRate` per class, in
    the order of ``classes``; ``threshold`` and ``decision`` say how a class
    was predicted.
    """

    axes: dict[str, Any]
    method: str
    classes: list[str]
    threshold: float | None
    decision: str
    arms: int
    confusion: list[list[int]]
    recall: list[ClassRate]
    precision: list[ClassRate]


class Aggregate(TypedDict):
    """What :func:`components.stats.aggregate` returns: the statistics block and the three kinds of rows.

    The join's aggregate (:func:`components.engine.surface.aggregate_records`) adds
    ``secondary``: one such aggregate per secondary metric, by name.
    """

    settings: dict[str, Any]
    cells: list[CellRow]
    paired: list[PairedRow]
    contrasts: list[PairedRow]
    secondary: NotRequired[dict[str, Any]]


@with_config(ConfigDict(extra="forbid"))
class SecondaryMetric(TypedDict):
    """One secondary metric's block of ``results["secondary"]``: its declaration and the same statistics as the primary.

    ``statistics`` are the primary's settings, but its verdicts are a family of
    their own (``family_size`` counts this metric's comparisons only) and
    descriptive: the confirmatory family is the primary metric's
    (``results["statistics"]``), and no correction spans metrics. A declared
    ``resolution`` is the primary metric's and is not applied here.
    """

    metric: MetricBlock
    statistics: dict[str, Any]
    cells: list[CellRow]
    paired: list[PairedRow]
    contrasts: list[PairedRow]


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
    #: ``{name: block}`` of the secondary metrics (``experiment.secondary_metrics``, config order); only when declared.
    secondary: NotRequired[dict[str, SecondaryMetric]]
    #: Binary and multiclass tasks only: one row per (cell, method) with its summed confusion matrix and per-class rates.
    per_class: NotRequired[list[PerClassRow]]


def _check(kind: type, value: Any, what: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(kind).validate_python(value, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{what}.{where}: {error['msg']}") from None
    known: frozenset[str] = getattr(kind, "__required_keys__") | getattr(kind, "__optional_keys__")
    extra = set(value) - known
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
