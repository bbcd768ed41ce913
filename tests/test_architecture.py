"""Layering rules, checked from the import graph (every import statement counts, in functions too):
the domain never imports Telegram, the chat layer never imports `bot` or pymongo, no cycle between
packages nor between modules, and every module imports on its own."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ["accounts", "inference", "content", "training", "storage"]
PACKAGES = ["bot", "handlers", "workers", *DOMAIN]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in this file names: `import a.b` -> a.b; `from a import b` -> a, and
    a.b when that is a module (relative imports resolved). Importing a package runs its `__init__`, so
    `from inference import layout` depends on `inference` too."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in project_modules())
    return names


@lru_cache(maxsize=1)
def module_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: {m for m in imported_modules(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def offenders(packages: list[str], forbidden: set[str]) -> list[str]:
    return sorted(
        f"{name} imports {imported}"
        for name, path in project_modules().items() if name.split(".")[0] in packages
        for imported in imported_modules(path) if imported.split(".")[0] in forbidden
    )


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_never_imports_telegram_or_the_chat_layer(package):
    assert not offenders([package], {"telegram", "handlers", "bot"})


def test_workers_never_import_telegram_the_chat_layer_or_the_bot():
    """`ecg-bot worker` runs on analysis machines: Celery, Redis and the analysis, nothing of the chat."""
    assert not offenders(["workers"], {"telegram", "handlers", "bot", "pymongo"})


def test_handlers_never_import_bot_or_pymongo():
    """Handlers get their services through the context (`handlers.context.AppContext`), and the storage
    layer turns database errors into domain errors."""
    assert not offenders(["handlers"], {"bot", "pymongo"})


def test_only_the_storage_layer_and_the_account_use_cases_import_pymongo():
    assert not offenders(["content", "inference", "training"], {"pymongo"})


def test_no_cycle_between_modules():
    """A package's `__init__` that imports its modules while they import the package is a cycle too."""
    assert cycles(module_graph()) == []


def test_no_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for name, imported in module_graph().items():
        packages.setdefault(name.split(".")[0], set()).update(m.split(".")[0] for m in imported)
    for package, imported in packages.items():
        imported.discard(package)
    assert cycles(packages) == []


def test_the_cycle_check_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_imports_on_its_own():
    """A fresh interpreter per package catches circular imports that a warm test process hides."""
    modules = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        modules.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            if not info.name.endswith("__main__"):  # runs the CLI when imported
                modules.append(info.name)
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for module in modules:
        result = subprocess.run([sys.executable, "-c", script, module], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 0, f"{module}: {result.stderr[-2000:]}"
