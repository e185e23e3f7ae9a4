"""Use cases: one function per thing a user does. Each takes a session and a plain
request, checks the rules in the documented order, applies them in the caller's
transaction, writes the audit event, and returns a plain result or raises a
domain error."""
