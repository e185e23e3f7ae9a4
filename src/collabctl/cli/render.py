"""How results look in a terminal (``--format table``).

Every string printed through the console is made safe to show (the console's
``render_str``, ``cli/output.py``); the tables of ``show`` are ``cli/tables.py``
tables: fitted to the terminal, or plain aligned columns in a pipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collabctl.cli.plain_console import print_styled
from collabctl.cli.tables import KEY, TEXT, Column, day, write_plain, write_terminal

_USERS = (
    Column("email", kind=KEY, priority=1),
    Column("name", kind=TEXT, priority=3),
    Column("role", kind=KEY, priority=2),
    Column("main_contact", "main contact", KEY, 2),
    Column("services", kind=TEXT, priority=2),
)
_SUBSCRIPTIONS = (
    Column("service", priority=1),
    Column("state", priority=1),
    Column("records", priority=2),
)
_COLLABORATIONS = (
    Column("service", priority=1),
    Column("office_org_number", "office org", KEY, 1),
    Column("office_name", "office", TEXT, 6),
    Column("state", priority=1),
    Column("started_at", "started", KEY, 3, day),
    Column("ended_at", "ended", KEY, 2, day),
    Column("ended_by", "by", KEY, 4),
    Column("outcome", priority=2),
    Column("ends_at", "ends", KEY, 3, day),
)
_OFFICES = (
    Column("org_number", "org number", KEY, 1),
    Column("name", kind=TEXT, priority=2),
    Column("email", "e-mail (notifications)", KEY, 1),
)
_ACCESS = (
    Column("service", priority=1),
    Column("party", priority=1),
    Column("access", priority=1),
)


def table(console: Any, title: str, rows: list[dict[str, Any]], columns: Sequence[Column]) -> None:
    """A titled table inside a rendered object: fitted to a terminal, plain in a pipe."""
    console.print()
    print_styled(console, (title, "bold"), soft_wrap=True)
    if not rows:
        console.print("none", style="dim")
    elif console.is_terminal:
        write_terminal(console, rows, columns, console.width)
    else:
        write_plain(console.file, rows, columns)


def render_company(console: Any, company: dict[str, Any]) -> None:
    print_styled(
        console,
        (f"{company['customer_number']}  {company['name']}", "bold"),
        f"  (org {company['org_number']})",
    )
    main = company["main_contact"]
    if main:
        print_styled(console, f"main contact: {main}")
    else:
        print_styled(console, "main contact: ", ("none", "red"), " (ending will fail)")
    users = [{**u, "main_contact": "yes" if u["main_contact"] else ""} for u in company["users"]]
    table(console, "Users and services", users, _USERS)
    table(console, "Subscriptions", company["subscriptions"], _SUBSCRIPTIONS)
    for s in company["subscriptions"]:
        if s["state"] == "deleted":  # the one irreversible outcome, undone from its backup
            console.print(
                f"{s['service']} was deleted: `collabctl restore BACKUP_FILE` puts its records "
                f"back (the backup's path is in `collabctl log --customer "
                f"{company['customer_number']} --service {s['service']}`)",
                markup=False,
            )
    table(console, "Collaborations", company["collaborations"], _COLLABORATIONS)
    if company.get("offices"):
        offices = [{**o, "email": o["email"] or "none"} for o in company["offices"]]
        table(console, "Offices", offices, _OFFICES)
    table(console, "Access now", company["access"], _ACCESS)


def render_collaboration(console: Any, c: dict[str, Any]) -> None:
    console.print(
        f"{c['state']}: {c['service']} collaboration of {c['customer_number']} {c['company_name']} "
        f"with {c['office_name']} ({c['office_org_number']}), started {c['started_at']}",
        markup=False,
    )


def render_user(console: Any, u: dict[str, Any]) -> None:
    line = f"{u['email']} ({u['name']}): {u['role']}"
    if u["main_contact"]:
        line += ", main contact"
    if u.get("services"):
        line += f"; services: {', '.join(u['services'])}"
    console.print(line, markup=False)
    if u.get("promoted"):
        console.print(
            "promoted to administrator: the main contact is always an administrator", markup=False
        )
    if u.get("previous_main_contact"):
        console.print(
            f"previous main contact {u['previous_main_contact']} stays administrator", markup=False
        )
    if u.get("changed") is False:
        console.print("already the main contact: nothing changed", markup=False)


def render_end_result(console: Any, r: dict[str, Any]) -> None:
    console.print(
        f"Ended the {r['service']} collaboration of {r['customer_number']} {r['company_name']} "
        f"with {r['office_name']} ({r['office_org_number']}).",
        markup=False,
    )
    console.print(
        f"Outcome: {r['outcome']}; the subscription is now {r['subscription_state']}. Ended by {r['ended_by']}.",
        markup=False,
    )
    if r["forced"]:
        console.print(f"Forced checklist items (recorded): {', '.join(r['forced'])}", markup=False)
    if r["outcome"] == "delete":
        from collabctl.domain.wording import counted

        console.print(f"Deleted {counted(r['records_deleted'], 'record')}.", markup=False)
        if r["backup_path"]:
            console.print(f"Backup: {r['backup_path']}", markup=False)
            import shlex  # a path with a space (macOS: Application Support) pastes as one word

            undo = f"collabctl restore {shlex.quote(r['backup_path'])}"
            console.print(f"To undo the delete: {undo}", markup=False, soft_wrap=True)
        else:
            console.print("No backup was written (--no-backup).", markup=False)


def render_preflight(console: Any, p: dict[str, Any], *, heading: bool = True) -> None:
    marks = {True: "[green]ok[/green]  ", False: "[red]FAIL[/red]", None: "[dim]--[/dim]  "}
    if heading:  # without: a continuation of a pre-flight shown before
        console.print(
            f"Pre-flight for ending {p['service']} of customer {p['customer_number']}"
            + (f" with office {p['office_org_number']}" if p["office_org_number"] else "")
            + ":"
        )
    from rich.markup import escape

    for check in p["checks"]:
        console.print(f"  {marks[check['ok']]} {check['check']:<13} {escape(check['message'])}")
    for item in p["checklist"]:
        mark = marks[True] if item["met"] else marks[False]
        console.print(
            f"       {mark} {item['item']:<20} {escape(item['detail'])} {escape('[' + item['by'] + ']')}"
        )


# -- the audit log's details ----------------------------------------------------------


def details_lines(details: Any) -> list[str]:
    """An audit event's details as ``key: value`` lines, for people (``log`` as a table).

    Empty values are left out; a before/after pair reads ``before -> after``; a
    change of a whole object (``before`` and ``after`` objects) shows the fields
    that changed. The machine formats carry the details as they are.
    """
    if details.__class__ is not dict:
        return [_value(details)] if details not in (None, "", [], {}) else []
    lines = []
    if "before" in details or "after" in details:
        before, after = details.get("before"), details.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            for key in [*before, *(k for k in after if k not in before)]:
                if before.get(key) != after.get(key):
                    lines.append(f"{_label(key)}: {_change(before.get(key), after.get(key))}")
        elif isinstance(before, dict) and after is None:
            lines.append(f"removed: {_value(before)}")
        else:
            lines.append(_change(before, after))
    for key, value in details.items():
        cls = value.__class__
        if cls is str:
            if value and key != "before" and key != "after":
                lines.append(_label(key) + ": " + value)
        elif key == "before" or key == "after" or value is None:
            continue
        elif cls is int:
            lines.append(_label(key) + ": " + str(value))
        elif value or cls is bool or cls is float:  # not an empty list or object
            lines.append(_label(key) + ": " + _value(value))
    return lines


_LABELS: dict[str, str] = {}


def _label(key: str) -> str:
    label = _LABELS.get(key)
    if label is None:
        label = str(key).replace("_", " ")
        if len(_LABELS) < 1000:  # the keys collabctl writes: a handful
            _LABELS[key] = label
    return label


def _change(before: Any, after: Any) -> str:
    return f"{_value(before)} -> {_value(after)}"


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if set(value) == {"before", "after"}:
            return _change(value["before"], value["after"])
        return ", ".join(f"{_label(k)}={_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) if value else "(none)"
    return str(value)


# -- a change of a user (the `user` group) ---------------------------------------------


def render_user_change(console: Any, change: dict[str, Any]) -> None:
    from collabctl.cli.safe_text import visible

    before, after = change["before"], change["after"]
    who = visible(f"{before['email']} ({before['name']})")
    if after is None:
        console.print(
            f"Removed {who}, {before['role']}, from customer {change['customer_number']}; "
            "their records stay.",
            markup=False,
        )
        return
    if not change["changed"]:
        console.print(f"{who}: nothing to change.", markup=False)
        return
    if before["role"] != after["role"]:
        console.print(f"{who}: role {before['role']} -> {after['role']}", markup=False)
    if before["services"] != after["services"]:
        console.print(
            f"{who}: services {_services(before)} -> {_services(after)}",
            markup=False,
        )


def _services(user: dict[str, Any]) -> str:
    return ", ".join(user["services"]) or "none"
