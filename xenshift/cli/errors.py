"""Turning the project's exceptions into messages and exit codes."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import click

from xenshift.errors import XenshiftError, printable

F = TypeVar("F", bound=Callable)


def report_errors(func: F) -> F:
    """Run a command body, printing any XenshiftError as ``prog: message``.

    Every line of a multi-error report is printed; the process exits with the
    error's ``exit_code``; characters a terminal would act on are escaped.
    Other exceptions are bugs and keep their traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except XenshiftError as err:
            for line in str(err).splitlines():
                click.echo(printable(line), err=True)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]
