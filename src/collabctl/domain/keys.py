"""The keys of collabctl's machine-readable output: a contract scripts rely on.

Kept here, free of database imports, so the command line can name the columns
without loading the storage layer.
"""

from __future__ import annotations

#: a collaboration, in `list` and inside `show`
COLLABORATION_KEYS = (
    "customer_number",
    "company_name",
    "service",
    "office_org_number",
    "office_name",
    "state",
    "started_at",
    "ended_at",
    "ended_by",
    "outcome",
    "reason",
    # when its scheduled end is due (end --at); None when none is scheduled
    "ends_at",
)

#: an audit event, in `log`
EVENT_KEYS = (
    "id",
    "at",
    "actor",
    "db_user",
    "scope",
    "action",
    "customer_number",
    "service",
    "details",
)

#: a notification in the outbox, in `notify list`
MESSAGE_KEYS = (
    "id",
    "created_at",
    "event",
    "customer_number",
    "service",
    "to",
    "subject",
    "state",
    "attempts",
    "deferrals",
    "next_attempt_at",
    "last_error",
    "sent_at",
)

#: a scheduled end, in `schedule list` (and `end --at`, with a few more)
SCHEDULE_KEYS = (
    "id",
    "customer_number",
    "service",
    "office_org_number",
    "outcome",
    "by",
    "due_at",
    "state",
    "scheduled_by",
    "error",
)
