"""Layering rules: the domain never imports Telegram, and every module imports on its own."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ["accounts", "inference", "content", "training"]
PACKAGES = ["bot", "handlers", *DOMAIN]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_never_imports_telegram_or_the_chat_layer(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for name in imported_modules(path):
            if name.split(".")[0] in {"telegram", "handlers", "bot"}:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


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
