"""The test suite's layout: test modules share helpers through tests/support only, and each
helper is defined once."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SUPPORT = "tests.support"


def module_name(path: Path, root: Path) -> str:
    """`tests/jobs/test_due.py` -> `tests.jobs.test_due` (a package's `__init__` is the
    package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> Iterator[str]:
    """Every module `path` imports from, relative imports resolved; for `from package import
    name`, also `package.name` (which may be a module)."""
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def is_helper_import(module: str, root: Path) -> bool:
    """Whether `module` is a module of the test suite outside its support package (a test
    module, a conftest, or a helper module left beside the tests)."""
    if not module.startswith("tests.") or module == SUPPORT or module.startswith(SUPPORT + "."):
        return False
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file()


def misplaced_imports(root: Path) -> list[tuple[str, str]]:
    """(importing file, imported module) for every import, anywhere under root/tests, of a
    test-suite module that is not in tests.support."""
    return sorted({(str(path.relative_to(root)), module)
                   for path in (root / "tests").rglob("*.py")
                   for module in imported_modules(path, root)
                   if is_helper_import(module, root)})


def definitions(root: Path, name: str) -> list[str]:
    """Files of the project (outside hidden folders such as .venv) that define a function
    `name`, once per definition."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        tree = ast.parse(path.read_text(), str(path))
        found += [str(path.relative_to(root)) for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.name == name]
    return found


def test_tests_import_helpers_only_from_the_support_package() -> None:
    assert misplaced_imports(ROOT) == []


def test_free_port_is_defined_once() -> None:
    assert definitions(ROOT, "free_port") == ["demo/servers.py"]


def test_the_checks_catch_what_they_forbid(tmp_path: Path) -> None:
    """A test importing another test module, a conftest or a helper beside the tests, and a
    second free_port, are each reported; imports of tests.support and of the project are not."""
    files = {
        "tests/__init__.py": "",
        "tests/conftest.py": "",
        "tests/keepers.py": "",
        "tests/support/__init__.py": "",
        "tests/support/ports.py": "def free_port() -> int:\n    return 0\n",
        "tests/jobs/__init__.py": "",
        "tests/jobs/test_a.py": "def helper() -> None: ...\n",
        "tests/jobs/test_b.py": ("from tests.jobs.test_a import helper\n"
                                 "from tests.support.ports import free_port\n"
                                 "from demo.servers import Postgres\n"),
        "tests/jobs/test_c.py": "from . import test_a\nfrom tests import keepers\n",
        "tests/jobs/test_d.py": "def f() -> None:\n    from tests.conftest import run_async\n",
        "demo/servers.py": "def free_port() -> int:\n    return 0\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert misplaced_imports(tmp_path) == [("tests/jobs/test_b.py", "tests.jobs.test_a"),
                                           ("tests/jobs/test_c.py", "tests.jobs.test_a"),
                                           ("tests/jobs/test_c.py", "tests.keepers"),
                                           ("tests/jobs/test_d.py", "tests.conftest")]
    assert definitions(tmp_path, "free_port") == ["demo/servers.py", "tests/support/ports.py"]
