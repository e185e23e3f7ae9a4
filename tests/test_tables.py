"""One definition of the schema: the Core tables of ``store/tables.py``, which reads use
without SQLModel, and the SQLModel classes of ``store/models.py`` mapped onto them."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Table

from collabctl.store import models, tables


def test_every_table_is_a_core_table_of_store_tables() -> None:
    """A table declared only as a SQLModel class would make a read of it import SQLModel:
    declare it in store/tables.py and map the class onto it (``__table__``)."""
    import collabctl.store.models  # noqa: F401  (every class registered)

    defined = {name: value for name, value in vars(tables).items() if isinstance(value, Table)}
    assert set(tables.metadata.tables) == {table.name for table in defined.values()}
    for name, table in tables.metadata.tables.items():
        assert getattr(tables, name) is table


def test_the_orm_classes_are_mapped_onto_the_core_tables() -> None:
    assert models.metadata is tables.metadata
    for cls in (
        models.Office,
        models.Company,
        models.CompanyUser,
        models.Subscription,
        models.Collaboration,
        models.ServiceRecord,
        models.AuditEvent,
        models.OutboxMessage,
        models.ServiceDefinition,
    ):
        table = cls.__table__  # type: ignore[attr-defined]
        assert table is getattr(tables, table.name), cls


def test_store_tables_loads_no_sqlmodel_and_no_orm() -> None:
    code = (
        "import sys, collabctl.store.tables; "
        "print(sorted(m for m in sys.modules if m.startswith(('sqlmodel', 'pydantic', "
        "'sqlalchemy.orm'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
