"""Every package the code imports is declared in pyproject.toml (SPEC 8.6).

A package that arrives only because another one depends on it can disappear
with that package's next release; the code must name what it uses. The lower
bounds themselves are checked by `.ci/smoke_lowest.py`, which installs them.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "collabctl"


def imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"collabctl"}


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        normalise(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    providers = packages_distributions()
    declared = declared_distributions()
    undeclared = {
        module: providers.get(module, ["(not installed)"])
        for module in imported_top_level_modules()
        if not declared & {normalise(d) for d in providers.get(module, [])}
    }
    assert undeclared == {}, f"imported but not in [project] dependencies: {undeclared}"


def test_the_check_sees_the_imports_it_must() -> None:
    # the walk finds third-party imports made inside functions too (lazy imports)
    assert {"typer", "sqlalchemy", "sqlmodel", "alembic", "psycopg", "pydantic"} <= (
        imported_top_level_modules()
    )
