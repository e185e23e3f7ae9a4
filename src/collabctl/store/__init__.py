"""Storage: SQLModel tables, engine and session setup, migrations, queries."""
