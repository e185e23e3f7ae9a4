"""Every hint that names a whole command (no CAPITALS to fill in) names one that works as
written (SPEC §8.4): each refusal below is followed by its hint's command, run as is."""

from __future__ import annotations

import re
import shlex

import pytest

from helpers import invoke

#: a command in a hint: from `collabctl` to a backtick, " (", ";", ", then", or the end
COMMAND = re.compile(r"collabctl [^`;]*?(?=`| \(|;|, then|, or |$)", re.M)


def hinted(stderr: str) -> list[str]:
    """The whole commands the hint of ``stderr`` names."""
    hint = stderr.split("hint: ", 1)[1]
    found = [m.group(0).strip() for m in COMMAND.finditer(hint)]
    return [c for c in found if not re.search(r"\b[A-Z][A-Z_]+\b", c)]


@pytest.fixture(autouse=True)
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


REFUSALS = {
    "main contact missing": ("end", "1002", "-s", "eekonomi", "-o", "deactivate", "--by",
                             "office", "--yes"),
    "checklist": ("end", "1005", "-s", "lon", "-o", "handover", "--by", "office", "--yes"),
    "unknown command": ("lst",),
    "user remove without --yes": ("user", "remove", "1001", "revisor@granskarna.se"),
    "demo on data": ("demo",),
    "demo --reset without --yes": ("demo", "--reset"),
}  # fmt: skip


@pytest.mark.parametrize("refused", REFUSALS.values(), ids=REFUSALS.keys())
def test_the_command_a_hint_names_works(refused: tuple[str, ...]) -> None:
    run = invoke(*refused)
    assert run.exit_code != 0 and "hint: " in run.stderr
    commands = hinted(run.stderr)
    assert commands, run.stderr
    for command in commands:
        words = shlex.split(command)
        done = invoke(*words[1:])
        assert done.exit_code == 0, (command, done.output)
