"""The ``minikafka`` command line: one sub-command per module in this package.

Each command module has a docstring (its help text), ``add_arguments(parser)``
and ``run(args) -> int``; modules are found at start-up, so a new command is
a new module. Errors a user can cause are reported as one line on stderr with
a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

__all__ = ["CommandError", "main"]


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _command_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def _commands(only: str | None = None) -> dict[str, ModuleType]:
    # Importing a command pulls in what it needs (the broker, the clients,
    # trio); importing only the one being run keeps start-up short.
    found = {}
    for name in _command_names():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "run") and hasattr(module, "add_arguments"):
            found[name] = module
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command is loaded."""
    parser = argparse.ArgumentParser(
        prog="minikafka", description="A single-process broker that speaks Kafka's wire protocol."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _commands(only).items():
        doc = (module.__doc__ or "").strip()
        command = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    chosen = arguments[0] if arguments and arguments[0] in _command_names() else None
    parser = build_parser(chosen)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args._module.run(args)
    except CommandError as exc:
        print(f"minikafka {args.command}: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        return 0
    return status
