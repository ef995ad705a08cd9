"""The linter at scale: fast on the repository's own code, no crash on 500 generated files."""

import ast
import random
from pathlib import Path

from lint import RULES, check_paths

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = sorted(
    [*FIXTURES.rglob("*.py"), *(REPO / "flows").rglob("*.py"), *(REPO / "components").rglob("*.py"),
     *(REPO / "lint").rglob("*.py")]
)
CODES = {rule.code for rule in RULES}


def variants(source: str, rng: random.Random) -> list[str]:
    """Five mutations of a file: prefixes, dropped lines, shuffled steps, renamed names."""
    lines = source.splitlines()
    out = ["\n".join(lines[: rng.randrange(1, len(lines) + 1)]) if lines else source]
    kept = [line for line in lines if rng.random() > 0.15]
    out.append("\n".join(kept))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return out + [source] * 3
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(node.body) > 1:
            rng.shuffle(node.body)
    out.append(ast.unparse(tree))
    top = ast.parse(source)
    top.body = top.body[: rng.randrange(0, len(top.body) + 1)]
    out.append(ast.unparse(top))
    out.append(source.replace("self.", "self_.") if rng.random() < 0.5 else source.replace("inputs", "inps"))
    return out


def test_linter_survives_500_generated_files(tmp_path):
    rng = random.Random(16)
    written = 0
    while written < 500:
        for path in SOURCES:
            if written >= 500:
                break
            for text in variants(path.read_text(), rng):
                folder = tmp_path / ("components" if written % 3 == 0 else "flows") / f"g{written // 50}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"f{written}_{path.stem}.py").write_text(text)
                written += 1
    findings = check_paths([tmp_path])
    assert len(list(tmp_path.rglob("*.py"))) >= 500
    assert findings, "the mutated corpus should trip some rules"
    assert {f.code for f in findings} <= CODES
    assert all(f.line >= 1 and f.col >= 1 and f.message for f in findings)


def test_linter_on_flows_components_and_lint_finds_nothing_and_reads_each_file_once(monkeypatch):
    """Our own code lints clean, parsed once per file. Its speed is measured by benchmarks/lint_speed.py, not asserted here."""
    import lint.analysis

    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(source, *args, **kwargs):
        parsed.append(kwargs.get("filename") or (args[0] if args else "<unknown>"))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", counting_parse)
    paths = [REPO / "flows", REPO / "components", REPO / "lint"]
    assert check_paths(paths) == []
    files = [str(f) for p in paths for f in p.rglob("*.py")]
    assert len(parsed) <= len(files) + len(lint.analysis._LOADED), (len(parsed), len(files))
