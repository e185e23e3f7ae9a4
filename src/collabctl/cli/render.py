"""How results look in a terminal (``--format table``)."""

from __future__ import annotations

from typing import Any


def _plain(*cells: str) -> list[Any]:
    """Table cells from data: names like "Byrå [/b] AB" are text, never markup."""
    from rich.text import Text

    return [Text(cell) for cell in cells]


def render_company(console: Any, company: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(
        f"[bold]{escape(company['customer_number'])}  {escape(company['name'])}[/bold]"
        f"  (org {escape(company['org_number'])})"
    )
    main = company["main_contact"]
    console.print(
        f"main contact: {escape(main)}"
        if main
        else "main contact: [red]none[/red] (ending will fail)"
    )

    users = Table(title="Users and services", title_justify="left", header_style="bold")
    for column in ("email", "name", "role", "main contact", "services"):
        users.add_column(column)
    for u in company["users"]:
        users.add_row(
            *_plain(
                u["email"],
                u["name"],
                u["role"],
                "yes" if u["main_contact"] else "",
                ", ".join(u["services"]),
            )
        )
    console.print(users)

    subs = Table(title="Subscriptions", title_justify="left", header_style="bold")
    for column in ("service", "state", "records"):
        subs.add_column(column)
    for s in company["subscriptions"]:
        subs.add_row(*_plain(s["service"], s["state"], str(s["records"])))
    console.print(subs)
    for s in company["subscriptions"]:
        if s["state"] == "deleted":  # the one irreversible outcome, undone from its backup
            console.print(
                f"{s['service']} was deleted: `collabctl restore BACKUP_FILE` puts its records "
                f"back (the backup's path is in `collabctl log --customer "
                f"{company['customer_number']} --service {s['service']}`)",
                markup=False,
            )

    collabs = Table(title="Collaborations", title_justify="left", header_style="bold")
    for column in ("service", "office", "state", "started", "ended", "by", "outcome"):
        collabs.add_column(column)
    for c in company["collaborations"]:
        collabs.add_row(
            *_plain(
                c["service"],
                f"{c['office_name']} ({c['office_org_number']})",
                c["state"],
                c["started_at"][:10],
                (c["ended_at"] or "")[:10],
                c["ended_by"] or "",
                c["outcome"] or "",
            )
        )
    console.print(collabs)

    if company.get("offices"):
        offices = Table(title="Offices", title_justify="left", header_style="bold")
        for column in ("org number", "name", "e-mail (notifications)"):
            offices.add_column(column)
        for o in company["offices"]:
            offices.add_row(*_plain(o["org_number"], o["name"], o["email"] or "none"))
        console.print(offices)

    access = Table(title="Access now", title_justify="left", header_style="bold")
    for column in ("service", "party", "access"):
        access.add_column(column)
    for a in company["access"]:
        access.add_row(*_plain(a["service"], a["party"], a["access"]))
    console.print(access)


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
        console.print(f"Deleted {r['records_deleted']} records.", markup=False)
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
