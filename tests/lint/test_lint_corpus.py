"""Precision and recall per rule on a corpus of realistic flows with ground truth written inline.

Run ``uv run pytest tests/lint/test_lint_corpus.py -q -s`` to print the table.
"""

import re
from collections import Counter
from pathlib import Path

from lint import RULES, check_paths

CORPUS = Path(__file__).parent / "fixtures" / "corpus"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>AXF\d{3}(?:\s*,\s*AXF\d{3})*)")
# Floors the corpus must keep; raise them as the rules improve, never lower them silently.
MIN_PRECISION = 0.9
MIN_RECALL = 0.85


def expected(path: Path) -> Counter:
    found: Counter = Counter()
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        match = EXPECT.search(text)
        if match:
            for code in match.group("codes").split(","):
                found[(str(path), number, code.strip())] += 1
    return found


def score_corpus() -> dict[str, dict[str, int]]:
    """``code -> {"tp", "fp", "fn"}`` over every corpus file, matching findings by line and code."""
    files = sorted(CORPUS.rglob("*.py"))
    truth: Counter = Counter()
    for path in files:
        truth += expected(path)
    actual = Counter((str(Path(f.path)), f.line, f.code) for f in check_paths(files))
    scores = {rule.code: {"tp": 0, "fp": 0, "fn": 0} for rule in RULES}
    for key in truth | actual:
        code = key[2]
        hit = min(truth[key], actual[key])
        scores[code]["tp"] += hit
        scores[code]["fp"] += actual[key] - hit
        scores[code]["fn"] += truth[key] - hit
    return scores


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 1.0


def table(scores: dict[str, dict[str, int]]) -> str:
    lines = ["code    tp  fp  fn  precision  recall"]
    total = Counter()
    for code, row in scores.items():
        if not any(row.values()):
            continue
        total.update(row)
        precision = ratio(row["tp"], row["tp"] + row["fp"])
        recall = ratio(row["tp"], row["tp"] + row["fn"])
        lines.append(f"{code} {row['tp']:>4} {row['fp']:>3} {row['fn']:>3}  {precision:9.2f}  {recall:6.2f}")
    precision = ratio(total["tp"], total["tp"] + total["fp"])
    recall = ratio(total["tp"], total["tp"] + total["fn"])
    lines.append(f"all    {total['tp']:>4} {total['fp']:>3} {total['fn']:>3}  {precision:9.2f}  {recall:6.2f}")
    return "\n".join(lines)


def test_corpus_has_flows_of_every_kind():
    names = {p.stem for p in CORPUS.rglob("*.py")}
    assert {"sweep_sklearn", "kfold_torch", "static_branches", "nested_foreach", "cards_report"} <= names
    assert sum(sum(expected(p).values()) for p in CORPUS.rglob("*.py")) >= 15


def test_corpus_precision_and_recall_per_rule():
    scores = score_corpus()
    report = table(scores)
    print("\n" + report)
    total = Counter()
    for row in scores.values():
        total.update(row)
    assert ratio(total["tp"], total["tp"] + total["fp"]) >= MIN_PRECISION, report
    assert ratio(total["tp"], total["tp"] + total["fn"]) >= MIN_RECALL, report
    for code, row in scores.items():
        if row["tp"] + row["fp"]:
            assert ratio(row["tp"], row["tp"] + row["fp"]) >= 0.75, f"{code}\n{report}"
