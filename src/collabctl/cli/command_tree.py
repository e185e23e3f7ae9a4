"""The root's commands, built when first needed.

Typer converts the signature of every command it builds (each option through its
own machinery), and each command module imports what its commands share; doing
that for some thirty commands on every start cost a short command such as
``list`` more than its own work (docs/performance.md). ``LazyCommands`` stands in
for the root group's ``commands``: looking up one command by name (the parser
resolving ``collabctl list``, or ``collabctl list --help``) imports only the
module that defines it and builds only that command; anything that lists the commands (the root's
help, completion of a command's name, the did-you-mean for an unknown one, the
generated reference) builds them all, in the order of their modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from collabctl.cli.typer_internals import command_of, commands_of


class LazyCommands(MutableMapping[str, Any]):
    """The commands of ``modules`` (each a module with a ``commands`` Typer), after
    ``own``; ``where`` names the module of each command, so that looking one up builds
    only its module (a name missing from ``where`` is found by building them all).
    ``prepare`` is called once with each command a module brings."""

    def __init__(
        self,
        own: Mapping[str, Any],
        modules: Sequence[str],
        where: Mapping[str, str],
        prepare: Callable[[Any], None],
    ) -> None:
        self._own = dict(own)
        self._modules = tuple(modules)
        self._where = where
        self._prepare = prepare
        self._built: dict[str, dict[str, Any]] = {}
        #: commands built alone, by module and name, before (or without) all of their module
        self._alone: dict[tuple[str, str], Any] = {}
        self._added: dict[str, Any] = {}
        self._removed: set[str] = set()

    def built(self) -> tuple[str, ...]:
        """The modules that commands were built from so far (one of them, or all)."""
        modules = [module for module, _ in self._alone]
        return tuple(dict.fromkeys([*modules, *self._built]))

    @staticmethod
    def _group(module: str) -> Any:
        # the import statement's way, which ``python -X importtime`` reports
        return __import__(module, fromlist=["commands"]).commands

    def _module(self, module: str) -> dict[str, Any]:
        if module not in self._built:
            found = commands_of(self._group(module))
            for name, command in found.items():
                alone = self._alone.get((module, name))
                if alone is not None:  # built before: the same object, prepared once
                    found[name] = alone
                else:
                    self._prepare(command)
            self._built[module] = found
        return self._built[module]

    def _command(self, module: str, name: str) -> Any | None:
        """The command ``name`` of ``module``, built alone unless its module was built."""
        if module in self._built:
            return self._built[module].get(name)
        key = (module, name)
        if key not in self._alone:
            command = command_of(self._group(module), name)
            if command is None:
                return self._module(module).get(name)
            self._prepare(command)
            self._alone[key] = command
        return self._alone[key]

    def _all(self) -> dict[str, Any]:
        merged = dict(self._own)
        for module in self._modules:
            merged.update(self._module(module))
        merged.update(self._added)
        return {name: c for name, c in merged.items() if name not in self._removed}

    def __getitem__(self, name: str) -> Any:
        if name in self._removed:
            raise KeyError(name)
        if name in self._added:
            return self._added[name]
        module = self._where.get(name)
        if module is not None:
            found = self._command(module, name)
            if found is not None:
                return found
        return self._all()[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._removed.discard(name)
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._added.pop(name, None)
        self._removed.add(name)

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return f"LazyCommands({list(self._modules)}, built={list(self._built)})"
