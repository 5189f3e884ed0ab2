"""Dependencies point one way (domain <- engine <- api/cli), and only docker/ imports aiodocker."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "autoheal"
# A package may import from these packages of autoheal, and no others.
ALLOWED = {
    "domain": {"domain", "config"},
    "docker": {"docker", "domain", "config"},
    "checks": {"checks", "domain", "config"},
    "store": {"store", "domain", "config"},
    "notify": {"notify", "domain", "store", "config", "metrics"},
    "engine": {"engine", "domain", "docker", "store", "checks", "notify", "config", "metrics", "logs", "portable"},
    "api": {"api", "engine", "domain", "docker", "store", "checks", "notify", "config", "portable", "metrics", "__init__"},
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).glob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package):
    for path in modules(package):
        for module in imports(path):
            if module == "autoheal":
                continue
            if not module.startswith("autoheal."):
                continue
            target = module.removeprefix("autoheal.")
            assert any(target == allowed or target.startswith(allowed + ".") for allowed in ALLOWED[package]), (
                f"{path.relative_to(SRC)} imports {module}"
            )


def test_only_the_docker_package_imports_the_docker_client():
    for path in SRC.rglob("*.py"):
        if path.parent.name == "docker":
            continue
        assert not {m for m in imports(path) if m.split(".")[0] in ("aiodocker", "aiohttp")}, path


def test_every_module_starts_with_a_one_line_docstring():
    for path in SRC.rglob("*.py"):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and "\n" not in doc.strip(), f"{path.relative_to(SRC)} needs a one-line docstring"
