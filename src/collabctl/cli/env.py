"""One place that knows about the terminal: streams, whether they are terminals,
and whether collabctl may prompt. Commands ask this object, never ``isatty``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Environment:
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_tty: bool = False
    stdout_tty: bool = False
    stderr_tty: bool = False
    no_input: bool = False

    @classmethod
    def detect(cls, *, no_input: bool = False) -> Environment:
        env = cls()
        env.stdin_tty = _isatty(env.stdin)
        env.stdout_tty = _isatty(env.stdout)
        env.stderr_tty = _isatty(env.stderr)
        env.no_input = no_input or os.environ.get("COLLABCTL_NO_INPUT", "") not in ("", "0")
        return env

    @property
    def can_prompt(self) -> bool:
        """Prompt only when a person can answer: both ends are terminals and input is allowed."""
        return self.stdin_tty and self.stdout_tty and not self.no_input
