"""The command line of the audit log's checks and the database roles' rights.

``log --verify [--anchor DIGEST]`` and ``db grant ROLE --agent|--read-only
[--apply]``: the commands themselves only parse their options and call these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collabctl.cli.output import Format, emit_object, message
from collabctl.domain.errors import UsageError

if TYPE_CHECKING:
    from collabctl.cli.state import State

VERIFY_HELP = (
    "Check the audit log's hash chains instead of listing it: exit 0 and a digest of "
    "every chain's head, or 1 (audit-tampered) naming the first changed, missing or "
    "reordered event."
)
ANCHOR_HELP = (
    "With --verify: a digest an earlier --verify printed; also prove that no event it "
    "covers was cut off, added or rewritten since."
)


def verify(state: State, anchor: str | None, fmt: Format, *, filtered: list[str]) -> None:
    """``log --verify``: the whole log, every chain."""
    from collabctl.operations.verify import verify_log

    if filtered:
        raise UsageError(
            f"--verify checks the whole log: {', '.join(filtered)} cannot narrow it",
            "collabctl log --verify [--anchor DIGEST]",
        )
    from collabctl.operations.context import Party

    result = verify_log(
        state.operations.database, anchor, Party.parse(state.party) if state.party else None
    )
    body = result.to_dict()
    del body["problems"]  # none when it is intact; an error lists them otherwise

    def render(_console: Any, obj: dict[str, Any]) -> None:
        out = state.env.stdout
        out.write(f"{result.summary()}\n")
        out.write(f"digest {obj['digest']}\n")

    emit_object(state.env, body, fmt, render)
    if result.checked is not None and fmt is Format.table:
        message(
            state.env,
            f"the digest {result.checked} still holds: nothing up to event "
            f"{result.checked.through} was cut off, added or rewritten",
        )


def anchor_without_verify() -> UsageError:
    return UsageError("--anchor goes with --verify", "collabctl log --verify --anchor DIGEST")


def grant(state: State, role: str, agent: bool, read_only: bool, apply: bool, fmt: Format) -> None:
    """``db grant``: print the statements, or run them as the owner."""
    from collabctl.operations.grants import SUMMARIES, grant

    if agent == read_only:
        raise UsageError(
            "say which rights: --agent or --read-only",
            f"collabctl db grant {role} --agent   (or --read-only)",
        )
    kind = "agent" if agent else "read-only"
    result = grant(state.operations.database, role, kind, apply=apply)

    def render(_console: Any, obj: dict[str, Any]) -> None:
        if not apply:
            state.env.stdout.write("\n".join(result.statements) + "\n")

    emit_object(state.env, result.to_dict(), fmt, render)
    if fmt is Format.table:
        what = SUMMARIES[kind]
        if apply:
            message(state.env, f"{role} now has the rights of {what}")
        else:
            message(
                state.env,
                f"the rights of {what}; run them as {result.target.owner}, "
                f"or apply them with `collabctl db grant {role} --{kind} --apply`",
            )
