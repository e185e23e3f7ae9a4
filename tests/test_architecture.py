"""The shape of the source: no two modules import each other, and no module imports or
reads another module's private names.

Every import counts: at the top of a module, inside a function, and under
``if TYPE_CHECKING`` (a circle of types is still a circle for the reader). Pure
``ast``: no module of collabctl is imported to check it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import collabctl

SOURCE = Path(collabctl.__file__).parent

#: Private names read across modules: none, and none may be added.
ALLOWED_PRIVATE: set[tuple[str, str]] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@dataclass
class Graph:
    """Which module imports which, and the private names each takes from another."""

    imports: dict[str, set[str]] = field(default_factory=dict)
    #: ``(reader, owner.name)`` -> the lines where it happens
    private: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def circles(self) -> list[tuple[str, str]]:
        return sorted(
            (a, b)
            for a, targets in self.imports.items()
            for b in targets
            if a < b and a in self.imports.get(b, set())
        )


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every module under the package directory ``root``: dotted name -> (file, is a package)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def scan(root: Path) -> Graph:
    modules = _modules(root)
    top = root.name
    graph = Graph()

    def take(reader: str, owner: str, name: str, line: int) -> None:
        graph.private.setdefault((reader, f"{owner}.{name}"), []).append(line)

    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = name if is_package else name.rpartition(".")[0]
        imported = graph.imports.setdefault(name, set())
        bound: dict[str, str] = {}  # a local name -> the module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != top:
                    continue
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    if submodule in modules:
                        imported.add(submodule)
                        bound[alias.asname or alias.name] = submodule
                    else:
                        imported.add(source)
                        if _private(alias.name):
                            take(name, source, alias.name, node.lineno)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == top:
                        imported.add(alias.name)
                        if alias.asname:
                            bound[alias.asname] = alias.name
                        else:
                            bound[top] = top
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            dotted: list[str] = []
            value: ast.expr = node.value
            while isinstance(value, ast.Attribute):
                dotted.append(value.attr)
                value = value.value
            if not isinstance(value, ast.Name) or value.id not in bound:
                continue
            owner = ".".join([bound[value.id], *reversed(dotted)])
            if owner in modules and owner != name:
                take(name, owner, node.attr, node.lineno)
        imported.discard(name)
    return graph


def test_no_two_modules_import_each_other() -> None:
    circles = scan(SOURCE).circles()
    assert not circles, (
        "these modules import each other (at the top, in a function or for a type); "
        "move what both need into one of them or into a third module: "
        + "; ".join(f"{a} <-> {b}" for a, b in circles)
    )


def test_no_module_takes_another_modules_private_names() -> None:
    found = scan(SOURCE).private
    new = {
        f"{reader} uses {name} (line {', '.join(map(str, lines))})"
        for (reader, name), lines in found.items()
        if (reader, name) not in ALLOWED_PRIVATE
    }
    assert not new, "make the name public, or move the code that needs it: " + "; ".join(
        sorted(new)
    )
    gone = ALLOWED_PRIVATE - set(found)
    assert not gone, f"no longer used, remove from ALLOWED_PRIVATE: {sorted(gone)}"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_scan_sees_circles_of_every_kind_of_import(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from pkg.b import thing\n",
            "b.py": "def f():\n    from pkg import a\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n",
            "d.py": "import pkg.c\n",
            "e.py": "from . import f\n",
            "f.py": "from .e import x\n",
            "g.py": "from pkg import a\n",
        },
    )
    assert scan(root).circles() == [("pkg.a", "pkg.b"), ("pkg.c", "pkg.d"), ("pkg.e", "pkg.f")]


def test_the_scan_sees_private_names_imported_or_read(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "owner.py": "_SQL = 'x'\n__all__ = []\n",
            "imports.py": "from pkg.owner import _SQL, __all__\n",
            "reads.py": "from pkg import owner\nprint(owner._SQL, owner.__all__)\n",
            "dotted.py": "import pkg.owner\nprint(pkg.owner._SQL)\n",
            "own.py": "_MINE = 1\nclass A:\n    _x = 1\nprint(A._x, _MINE)\n",
        },
    )
    assert set(scan(root).private) == {
        ("pkg.imports", "pkg.owner._SQL"),
        ("pkg.reads", "pkg.owner._SQL"),
        ("pkg.dotted", "pkg.owner._SQL"),
    }


#: What the command line never holds: it reaches the database through the operations gateway of
#: its invocation (``state.operations``), which opens the sessions (SPEC §8.6).
SESSION_TYPES = {"Session", "Connection"}
SESSION_CALLS = {"session", "reading", "transact", "connection"}


def sessions_held(root: Path) -> list[str]:
    """Where a module under ``root`` imports a session or connection type of SQLAlchemy,
    or opens a transaction on a database itself (``.session(``, ``.reading(``,
    ``.transact(``, ``.connection(``): ``module:line what``."""
    found = []
    for name, (path, _) in sorted(_modules(root).items()):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                found += [
                    f"{name}:{node.lineno} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name in SESSION_TYPES or alias.name == "*"
                ]
            elif isinstance(node, ast.Import):
                found += [
                    f"{name}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if alias.name in ("sqlalchemy.orm", "sqlalchemy.engine")
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SESSION_CALLS
            ):
                found.append(f"{name}:{node.lineno} calls .{node.func.attr}(")
    return found


def test_the_command_line_never_holds_a_session() -> None:
    held = sessions_held(SOURCE / "cli")
    assert not held, (
        "the command line runs operations through state.operations (operations/gateway.py) "
        "and never holds a session or connection: " + "; ".join(held)
    )


def test_the_scan_sees_sessions_held(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "types.py": "from sqlalchemy.orm import Session\nfrom sqlalchemy.engine import Connection\n",
            "module.py": "import sqlalchemy.orm\n",
            "opens.py": "def f(db):\n    with db.session(write=False) as s, db.reading() as c:\n        db.transact(f)\n",
            "fine.py": "from sqlalchemy import select\ndef f(state):\n    state.operations.read(f)\n",
        },
    )
    assert sessions_held(root) == [
        "pkg.module:1 imports sqlalchemy.orm",
        "pkg.opens:2 calls .session(",
        "pkg.opens:2 calls .reading(",
        "pkg.opens:3 calls .transact(",
        "pkg.types:1 imports sqlalchemy.orm.Session",
        "pkg.types:2 imports sqlalchemy.engine.Connection",
    ]
