"""The smoke commands against the lowest versions pyproject.toml allows.

Usage (from the repository root, with the test environment active):

    python .ci/smoke_lowest.py

Makes ``.venv-lowest`` with every direct dependency at the lowest version its
range in pyproject.toml admits (uv's ``--resolution lowest-direct``), then runs
the smoke commands with that environment's ``collabctl``: on the embedded
SQLite default, and on a throwaway PostgreSQL server started as the tests start
one (tests/pg_fixtures.py). A lower bound that is not true fails here, with the
command and its output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOWEST = ROOT / ".venv-lowest"

SMOKE = [
    ["--version"],
    ["demo"],
    ["list"],
    ["show", "1001"],
    ["end", "1001", "--service", "eekonomi", "--outcome", "continue", "--by", "customer", "--yes"],
    ["log", "--verify"],
    ["doctor"],
]


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        sys.exit(
            f"lowest versions: {' '.join(command)} exited {done.returncode}\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def install() -> Path:
    python = LOWEST / "bin" / "python"
    if not python.exists():
        venv.create(LOWEST, with_pip=True)
    run([str(python), "-m", "pip", "install", "-q", "uv"])
    run(
        [
            str(LOWEST / "bin" / "uv"),
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "--resolution",
            "lowest-direct",
            "--reinstall-package",
            "collabctl",
            str(ROOT),
        ]
    )
    print(run([str(python), "-m", "pip", "freeze"]), end="")
    return LOWEST / "bin" / "collabctl"


def smoke(collabctl: Path, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="collabctl-lowest-") as home:
        env = {**os.environ, "COLLABCTL_HOME": home, "NO_COLOR": "1"}
        env.pop("COLLABCTL_DATABASE_URL", None)
        if database_url is not None:
            env["COLLABCTL_DATABASE_URL"] = database_url
            run([str(collabctl), "db", "upgrade"], env)
        for args in SMOKE:
            run([str(collabctl), *args], env)
    print(f"lowest versions: smoke commands passed on {'PostgreSQL' if database_url else 'SQLite'}")


def main() -> None:
    collabctl = install()
    smoke(collabctl, None)
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_fixtures import PostgresServer

    server = PostgresServer().start()
    try:
        smoke(collabctl, server.create_database("collabctl_lowest"))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
