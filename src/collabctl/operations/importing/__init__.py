"""``collabctl import``: upsert offices, companies and catalogue entries from a stream.

- ``importing.reader`` reads the input into items, one at a time, each on its own;
- ``importing.models`` validates an item (input models calling ``domain.validation``),
  ``importing.rules`` checks what no single field can;
- ``importing.plan`` compares an item with what is stored and notes its rows;
- ``collabctl.store.import_rows`` reads a batch's stored rows and writes its rows;
- ``importing.run`` ties them together in batches, one transaction each.

A bad item is reported with its path and nothing of it is written; the others
go in. Importing the same input twice changes nothing and writes no second
audit event.
"""

from collabctl.operations.importing.results import Changes, ItemResult
from collabctl.operations.importing.run import BATCH_ITEMS, import_items

__all__ = ["BATCH_ITEMS", "Changes", "ItemResult", "import_items"]
