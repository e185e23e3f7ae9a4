"""What collabctl does: one function per act. Each checks the rules in the documented
order and returns plain data (never ORM rows) or raises a domain error.

A single change (start, end, set-main-contact, a user's change, a scheduled end's
entry) takes a session and a ``Context`` and works in the caller's transaction
(``Database.transact``, retried on a lock conflict), its audit event included. A run
over many items commits a batch at a time itself: ``import`` on the session it is
given, bulk ``end --from`` (``bulk.run_batch``), ``schedule run`` and ``notify send``
on the ``Database``. ``log --verify`` reads the ``Database`` in a snapshot of its own.
"""
