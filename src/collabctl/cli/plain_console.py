"""Drawing an object for people in a pipe without colour, without importing Rich.

``show`` and the other commands that draw an object mostly print lines of text;
in a pipe without colour Rich adds nothing to them but costs a fifth of the
start-up of a short command to import (docs/performance.md). :class:`PlainConsole`
writes such lines itself and hands Rich what it must lay out; :func:`print_styled`
prints a line of styled parts on either console without parsing markup.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, TextIO

from collabctl.cli.safe_text import visible

#: Width of what Rich renders for a file or pipe (never tables: those are not cut).
PIPE_WIDTH = 160


class PlainConsole:
    """What a Rich console writes in a pipe without colour, for plain text, without Rich.

    ``show`` and the other commands that draw an object for people mostly print lines
    of text; in a pipe without colour Rich adds nothing to them but costs a fifth of
    the start-up of a short command to import (docs/performance.md). This console
    writes such a line itself, made safe to show as Rich's would be (``render_str``
    of ``output.console``), and hands anything else to the Rich console ``rich()``
    makes, on the same stream: markup, a renderable that is not a string, a tab or a
    newline (which Rich lays out), a long line with trailing spaces (which Rich trims
    to the width), an option it does not know.
    """

    is_terminal = False
    color_system = None

    def __init__(self, file: TextIO, width: int, rich: Callable[[], Any]) -> None:
        self.file = file
        self.width = width
        self.quiet = False
        self._make_rich = rich
        self._rich: Any = None

    def _delegate(self) -> Any:
        if self._rich is None:
            self._rich = self._make_rich()
        return self._rich

    def __getattr__(self, name: str) -> Any:  # anything else a renderer asks of a console
        return getattr(self._delegate(), name)

    def print(
        self,
        *objects: Any,
        sep: str = " ",
        end: str = "\n",
        style: Any = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        soft_wrap: bool | None = None,
        **options: Any,
    ) -> None:
        if self.quiet:  # the reader went away: nothing more to write, as with Rich
            return
        line = self._plain(objects, sep, end, markup, soft_wrap, options)
        try:
            if line is not None:
                self.file.write(line + end)
                self.file.flush()
                return
        except UnicodeEncodeError:  # nothing written: Rich says it, with its hint
            pass
        except BrokenPipeError:
            # as the Rich console does (``on_broken_pipe`` in ``output.console``)
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away") from None
        self._delegate().print(
            *objects,
            sep=sep,
            end=end,
            style=style,
            markup=markup,
            highlight=highlight,
            soft_wrap=soft_wrap,
            **options,
        )

    def _plain(
        self,
        objects: tuple[Any, ...],
        sep: str,
        end: str,
        markup: bool | None,
        soft_wrap: bool | None,
        options: dict[str, Any],
    ) -> str | None:
        """The line Rich would write for ``objects``, or None when Rich must lay it out."""
        if options or soft_wrap is False or self._rich is not None:
            return None
        if not objects:
            return "" if end == "\n" else None
        if any(type(o) is not str for o in objects):
            return None
        line = sep.join(visible(o, layout=True) for o in objects)
        if "\n" in line or "\t" in line or (markup is not False and "[" in line):
            return None
        if len(line) > self.width and line != line.rstrip():
            return None
        return line


def print_styled(
    console: Any, *parts: str | tuple[str, str], soft_wrap: bool | None = None
) -> None:
    """One line of ``parts``, each text as it is or a ``(text, style)`` pair, made safe to
    show: what Rich markup would print, without parsing markup (nor importing Rich's
    text, on the plain console)."""
    if isinstance(console, PlainConsole):
        text = "".join(p if isinstance(p, str) else p[0] for p in parts)
        console.print(text, markup=False, soft_wrap=soft_wrap)
        return
    from rich.text import Text

    line = Text.assemble(
        *(
            visible(p, layout=True) if isinstance(p, str) else (visible(p[0], layout=True), p[1])
            for p in parts
        )
    )
    console.print(line, soft_wrap=soft_wrap)
