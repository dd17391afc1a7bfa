"""Scripts run from a checkout without the test suite: none reaches into tests/."""

import ast
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
TEST_MODULES = {"builders", "conftest", "tests", "support", "planted", "synthetic"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_script_imports_test_helpers() -> None:
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert {p.name for p in scripts} >= {"bench_sweep.py", "bench_forward.py", "bench_common.py"}
    for path in scripts:
        assert not imported_modules(path) & TEST_MODULES, path.name
        assert '"tests"' not in path.read_text(), f"{path.name} puts tests/ on sys.path"


def test_bench_scripts_share_one_tokenizer() -> None:
    assert "bench_common" in imported_modules(SCRIPTS / "bench_forward.py")
    # The sweep benchmark's successor heads need the task words as single tokens, so its
    # checkpoints carry the organisms' word-level tokenizer (built in bench_baselines).
    assert "bench_baselines" in imported_modules(SCRIPTS / "bench_sweep.py")
