"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

    tinygrad-edu demo [iris|moons|spirals] [--epochs N] [--lr LR] [--batch-size N]
                      [--optimizer sgd|momentum|adam] [--seed N] [--out DIR]
    tinygrad-edu gradcheck [--only NAME ...]

Each subcommand is one row of ``COMMANDS``: its name, a line of help, a
function that adds its arguments, and a function that runs it and returns
the exit status. Bad input (an unknown name, a negative count, an unwritable
folder) gets one line on stderr, ``tinygrad-edu: error: ...``, and exit
status 2: never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__, demo

PROG = "tinygrad-edu"
DEFAULT_OUT = "tinygrad_edu_out"


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a parse error raises ``UsageError`` (one line) instead of printing the usage."""

    def error(self, message):
        raise UsageError(message)


# ---------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def writable_folder(path) -> Path:
    """Create ``path`` if needed and prove it writable by writing (and removing) a probe file."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except (OSError, ValueError) as error:  # ValueError: a name the file system cannot hold (a NUL byte)
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot write to the output folder {os.fspath(path)!r}: {reason}") from None
    return folder


# ---------------------------------------------------------------------------- demo


def _demo_arguments(parser):
    parser.add_argument("dataset", nargs="?", default="iris", choices=list(demo.DATASETS),
                        help="what to train on (default: iris, the tutorial's network)")
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                        help="passes over the training data (default: 1000)")
    parser.add_argument("--lr", type=positive_float, default=None, metavar="LR", help="learning rate (default: 0.1)")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="N", help="samples per step (default: 16)")
    parser.add_argument("--optimizer", choices=list(demo.OPTIMIZERS), default="sgd",
                        help="sgd (the tutorial's), momentum (SGD, momentum 0.9) or adam (default: sgd)")
    parser.add_argument("--seed", type=non_negative_int, default=42, metavar="N",
                        help="seeds the split, the initial weights and the shuffling (default: 42)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the pictures, report and weights (default: ./{DEFAULT_OUT})")


def _run_demo(args) -> int:
    args.out = writable_folder(args.out)  # before training, so a bad folder fails at once
    return demo.run_demo(args)


# ---------------------------------------------------------------------------- gradcheck


def _gradcheck_arguments(parser):
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="check only these ops or modules (names as in the report)")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="N", help="seed for the input values (default: 0)")


def _run_gradcheck(args) -> int:
    from .tools import sweep

    if args.only:
        unknown = sorted(set(args.only) - set(sweep.known_names()))
        if unknown:
            raise UsageError(f"unknown check name(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sweep.known_names())}")
    rows = sweep.sweep(only=set(args.only) if args.only else None, seed=args.seed)
    print(sweep.format_table(rows))
    return 0 if all(row.passed for row in rows) else 1


# ---------------------------------------------------------------------------- the command table


@dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` returns the exit status."""

    name: str
    help: str
    add_arguments: Callable
    run: Callable


COMMANDS = (
    Command("demo", "train the tutorial's network and write its pictures", _demo_arguments, _run_demo),
    Command("gradcheck", "check every op's and module's gradients against finite differences",
            _gradcheck_arguments, _run_gradcheck),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="tinygrad_edu: a small autodiff framework on NumPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return its exit status."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_request:  # --help and --version end here
            return exit_request.code or 0
        return args.run(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
