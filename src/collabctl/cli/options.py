"""The arguments and options that several commands take, declared once.

A command names them in its signature: ``customer: CustomerArgument``,
``fmt: FormatOption = Format.table``. The parameter of ``FormatOption`` must be
called ``fmt``: ``handles_errors`` reads it to write errors in that format too.
"""

# No `from __future__ import annotations`: Typer evaluates these at start-up.

from typing import Annotated

import typer

from collabctl.cli.output import Format

CUSTOMER_HELP = "Customer number."
SERVICE_HELP = "Service code, e.g. eekonomi."

#: CUSTOMER, required.
CustomerArgument = Annotated[str, typer.Argument(metavar="CUSTOMER", help=CUSTOMER_HELP)]

#: CUSTOMER, asked for in a terminal when left out.
OptionalCustomerArgument = Annotated[
    str | None, typer.Argument(metavar="CUSTOMER", help=CUSTOMER_HELP, show_default=False)
]

#: --service/-s, required.
ServiceOption = Annotated[str, typer.Option("--service", "-s", help=SERVICE_HELP)]

#: --service/-s, asked for in a terminal when left out.
OptionalServiceOption = Annotated[str | None, typer.Option("--service", "-s", help=SERVICE_HELP)]

#: --service/-s narrowing what a command reads.
ServiceFilter = Annotated[str | None, typer.Option("--service", "-s", help="Only this service.")]

#: --customer narrowing what a command reads.
CustomerFilter = Annotated[
    str | None, typer.Option("--customer", help="Only this customer number.")
]

#: --format/-f: how the result is written.
FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help="Output format: table for people; json, jsonl, csv for scripts."
    ),
]
