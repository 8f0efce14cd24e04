"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

    tinygrad-edu demo [iris|moons|spirals|digits] [--epochs N] [--lr LR] [--batch-size N]
                      [--optimizer sgd|momentum|adam] [--seed N] [--out DIR] [--compile]
    tinygrad-edu graph [--layers 4,16,8,3] [--activations relu,relu,softmax] [--grads] [--out graph.svg]
    tinygrad-edu explore [the options of graph] [--out backprop.html]
    tinygrad-edu gradcheck [--only NAME ...]
    tinygrad-edu exercises init DIR | check DIR [NAME]
    tinygrad-edu bench [--quick] [--scenarios A,B,C,D,E] [--json PATH] [--threads N] [--check-fair]
    tinygrad-edu export WEIGHTS [--model iris|moons|spirals|digits] --onnx PATH

Each subcommand is one row of ``COMMANDS``: its name, a line of help, a
function that adds its arguments, and a function that runs it and returns
the exit status. Bad input (an unknown name, a negative count, an unwritable
folder, an unknown option, named with the closest known one) gets one line on
stderr, ``tinygrad-edu: error: ...``, and exit status 2: never a traceback.
Ctrl-C ends a command with exit status 130. A failed check, or a missing tool that a command
cannot do without (Graphviz's ``dot`` for ``graph``), gives exit status 1.
"""
from __future__ import annotations

import argparse
import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__, bench, demo
from .tools.argtypes import non_negative_int, positive_float, positive_int

PROG = "tinygrad-edu"
INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a parse error raises ``UsageError`` (one line) instead of printing the usage."""

    def error(self, message):
        raise UsageError(message)


def _looks_like_a_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def check_options(parser, subcommands: dict, argv) -> None:
    """Raise ``UsageError`` for the first option that neither the command nor its subcommand knows,
    with the closest known one (``--optimiser``: did you mean ``--optimizer``?).

    Checked before argparse parses: argparse would report it only as "unrecognized
    arguments", or first mistake the value after it for a positional argument.
    """
    scope, where = parser, ""
    for token in argv:
        if token == "--":
            return
        if scope is parser and token in subcommands:
            scope, where = subcommands[token], f" for {token}"
            continue
        if not token.startswith("-") or token == "-" or _looks_like_a_number(token):
            continue
        option = token.split("=", 1)[0]
        known = list(scope._option_string_actions)  # every spelling, --help included
        if option in known or (option.startswith("--") and sum(k.startswith(option) for k in known) == 1):
            continue  # exact, or an abbreviation argparse accepts
        # compared without the dashes, which every option shares and which would make any two look alike
        by_name = {k.lstrip("-"): k for k in known}
        close = difflib.get_close_matches(option.lstrip("-"), list(by_name), n=1)
        hint = f"did you mean {by_name[close[0]]}?" if close else "see --help"
        raise UsageError(f"unknown option {option}{where}; {hint}")


# ---------------------------------------------------------------------------- argument types


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
    iris = demo.DATASETS["iris"]
    parser.add_argument("dataset", nargs="?", default="iris", choices=list(demo.DATASETS),
                        help="what to train on (default: iris, the tutorial's network)")
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                        help=f"passes over the training data (default: the dataset's; iris {iris.epochs})")
    parser.add_argument("--lr", type=positive_float, default=None, metavar="LR",
                        help=f"learning rate (default: the dataset's; iris {iris.lr:g})")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                        help=f"samples per step (default: the dataset's; iris {iris.batch_size})")
    parser.add_argument("--optimizer", choices=list(demo.OPTIMIZERS), default=None,
                        help=f"{demo.OPTIMIZER_HELP} (default: the dataset's; iris {iris.optimizer})")
    parser.add_argument("--seed", type=non_negative_int, default=demo.DEFAULT_SEED, metavar="N",
                        help=f"seeds the split, the initial weights and the shuffling (default: {demo.DEFAULT_SEED})")
    parser.add_argument("--out", default=demo.DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the pictures, report and weights (default: ./{demo.DEFAULT_OUT})")
    parser.add_argument("--compile", action="store_true",
                        help="capture the training step once and replay it (tg.compile): the same results, faster")


def _run_demo(args) -> int:
    out = writable_folder(args.out)  # before training, so a bad folder fails at once
    run = demo.run_demo(args.dataset, out, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                        optimizer=args.optimizer, seed=args.seed, compile=args.compile)
    return INTERRUPTED if run.history.interrupted else 0


# ---------------------------------------------------------------------------- graph


def int_list(text: str) -> list:
    """'4,16,8,3' -> [4, 16, 8, 3]: at least two sizes, each at least 1."""
    sizes = [positive_int(part.strip()) for part in text.split(",")]
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"needs an input and an output size, such as 4,16,8,3; got {text!r}")
    return sizes


def activation_list(text: str) -> list:
    """'relu,relu,softmax' -> ['relu', 'relu', 'softmax'], each a name of ``nn.ACTIVATIONS``."""
    from .nn import ACTIVATIONS

    names = [part.strip() for part in text.split(",")]
    known = sorted(name for name in ACTIVATIONS if name is not None)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown activation {unknown[0]!r}; choose from {', '.join(known)}")
    return names


def _graph_arguments(parser, out="graph.svg", out_help="the picture to write: .svg, .png or .pdf"):
    parser.add_argument("--layers", type=int_list, default=[4, 16, 8, 3], metavar="SIZES",
                        help="layer sizes, input first, comma-separated (default: 4,16,8,3)")
    parser.add_argument("--activations", type=activation_list, default=None, metavar="NAMES",
                        help="one activation per layer, comma-separated (default: relu for the hidden layers, "
                             "softmax for the output, as in the tutorial)")
    parser.add_argument("--grads", action="store_true", help="show the gradient each tensor receives")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                        help="seeds the weights and the batch (default: 0)")
    parser.add_argument("--out", default=out, metavar="FILE", help=f"{out_help} (default: {out})")


# What drawing a step costs per weight, about: the float64 draw of the initial values, the
# float32 weight, its gradient, and the gradient the traced backward pass keeps.
BYTES_PER_WEIGHT = 24


def memory_available():
    """Bytes of memory free now (or all physical memory where that is unknown); None where neither is known."""
    for name in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return os.sysconf(name) * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            continue
    return None


def _too_large(layers, needed=None) -> UsageError:
    sizes = ",".join(map(str, layers))
    amount = f"about {needed / 2**30:,.1f} GiB, more memory than is free" if needed else "more memory than is free"
    return UsageError(f"--layers {sizes}: drawing one step of these layers needs {amount}; "
                      "a picture of the graph needs only small layers, such as 4,16,8,3")


def _mlp_step(args, out_suffixes):
    """The MLP's training step the arguments ask for, ``(loss, model)``, once the output path is
    known to be fine; None (after one line on stderr) when Graphviz's dot is missing."""
    from .tools.trace import mlp_step

    layers = args.layers
    activations = args.activations or ["relu"] * (len(layers) - 2) + ["softmax"]
    if len(activations) != len(layers) - 1:
        raise UsageError(f"--layers {','.join(map(str, layers))} makes {len(layers) - 1} layers, which need "
                         f"{len(layers) - 1} activations; --activations gives {len(activations)}")
    needed = BYTES_PER_WEIGHT * sum((n_in + 1) * n_out for n_in, n_out in zip(layers, layers[1:]))
    available = memory_available()
    if available is not None and needed > available:
        raise _too_large(layers, needed)
    out = Path(args.out)
    if out.suffix.lower().lstrip(".") not in out_suffixes:
        raise UsageError(f"--out must end in {', '.join('.' + f for f in out_suffixes)}, got {args.out!r}")
    writable_folder(out.parent)
    if shutil.which("dot") is None:
        print(f"{PROG}: error: to draw the graph, install {demo.TOOLS['dot'].install}", file=sys.stderr)
        return None
    try:
        return mlp_step(layers, activations, seed=args.seed)
    except MemoryError:  # where free memory could not be known beforehand
        raise _too_large(layers) from None


def _write(write, out):
    """Run ``write()`` (it returns the path written) and say so; a folder in the way or no permission is a usage error."""
    try:
        print(f"Wrote {write()}")
    except OSError as error:
        raise UsageError(f"cannot write {out!r}: {error.strerror or error}") from None
    return 0


def _run_graph(args) -> int:
    from .tools.trace import traced_graph
    from .tools.viz import FORMATS, write_picture

    step = _mlp_step(args, FORMATS)
    if step is None:
        return 1
    loss, model = step
    try:
        digraph = traced_graph(loss, model, args.grads)
    except MemoryError:
        raise _too_large(args.layers) from None
    return _write(lambda: write_picture(digraph, args.out), args.out)


# ---------------------------------------------------------------------------- explore


def _explore_arguments(parser):
    _graph_arguments(parser, out="backprop.html", out_help="the page to write, .html")


def _run_explore(args) -> int:
    from .tools.explorer import render_explorer

    step = _mlp_step(args, ("html",))
    if step is None:
        return 1
    loss, model = step
    try:
        return _write(lambda: render_explorer(loss, args.out, params=model, show_grads=args.grads), args.out)
    except MemoryError:
        raise _too_large(args.layers) from None


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


# ---------------------------------------------------------------------------- exercises


def _exercises_arguments(parser):
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="write the exercise files and their README into DIR",
                              description="write the exercise files and their README into DIR")
    init.add_argument("folder", metavar="DIR", help="the folder to write (created if needed; never overwritten)")
    check = actions.add_parser("check", help="check the backward passes written in DIR",
                               description="check the backward passes written in DIR")
    check.add_argument("folder", metavar="DIR", help="the folder that init wrote")
    check.add_argument("name", nargs="?", metavar="NAME", help="only this exercise (mul, sum, ...; default: all)")


def _exercises_init(args) -> int:
    from .exercises import init_folder

    writable_folder(args.folder)
    try:
        written = init_folder(args.folder)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    print(f"Wrote {len(written) - 1} exercises and their README to {args.folder}: start with "
          f"{Path(args.folder) / written[-1].name}")
    return 0


def _exercises_check(args) -> int:
    if not Path(args.folder).is_dir():
        raise UsageError(f"no folder {args.folder!r}; write the exercises with: {PROG} exercises init {args.folder}")
    try:
        from .exercises.check import check_folder, format_results
    except ImportError as error:  # hypothesis draws the inputs
        print(f"{PROG}: error: checking the exercises needs {error.name}: "
              f'pip install "tinygrad_edu[exercises]"', file=sys.stderr)
        return 1
    try:
        results = check_folder(args.folder, args.name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    print(format_results(results))
    return 0 if all(result.passed for result in results) else 1


EXERCISE_ACTIONS = {"init": _exercises_init, "check": _exercises_check}


def _run_exercises(args) -> int:
    return EXERCISE_ACTIONS[args.action](args)


# ---------------------------------------------------------------------------- bench


def _run_bench(args) -> int:
    try:
        return bench.run(args)
    except bench.BenchError as error:
        raise UsageError(str(error)) from None


# ---------------------------------------------------------------------------- export


def _export_arguments(parser):
    parser.add_argument("weights", metavar="WEIGHTS", help="a checkpoint written by demo (weights.safetensors)")
    parser.add_argument("--model", choices=list(demo.DATASETS), default=None,
                        help="the demo network the weights belong to (default: the one the checkpoint names)")
    parser.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")


def _run_export(args) -> int:
    from . import onnx as onnx_export
    from .tools.checkpoint import CheckpointError, load

    target = Path(args.onnx)
    writable_folder(target.parent)
    if not onnx_export.have_onnx():
        print(f"{PROG}: error: {onnx_export.INSTALL}", file=sys.stderr)
        return 1
    try:
        saved = load(args.weights)
    except (OSError, CheckpointError) as error:
        raise UsageError(f"cannot read the weights {args.weights!r}: {getattr(error, 'strerror', None) or error}") from None
    dataset = args.model or saved.get("dataset")
    if dataset not in demo.DATASETS or not isinstance(saved.get("model"), dict):
        raise UsageError(f"{args.weights!r} does not say which demo network it holds; give --model "
                         f"({', '.join(demo.DATASETS)})")
    spec = demo.DATASETS[dataset]
    model = spec.build_model()
    try:
        model.load_state_dict(saved["model"])
    except ValueError as error:
        raise UsageError(f"the weights do not fit the {dataset} network ({spec.network}): {error}") from None
    example = demo.load_split(spec, demo.DEFAULT_SEED)[0][:1]  # one prepared sample: the input's shape and dtype
    print(f"Wrote {onnx_export.export(model, example, target)}")
    return 0


# ---------------------------------------------------------------------------- the command table


@dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` returns the exit status."""

    name: str
    help: str
    add_arguments: Callable
    run: Callable


COMMANDS = (
    Command("demo", "train the tutorial's network (or another dataset's) and write its pictures",
            _demo_arguments, _run_demo),
    Command("graph", "draw the graph of one training step of an MLP", _graph_arguments, _run_graph),
    Command("explore", "write the backprop explorer, a web page that steps through one training step of an MLP",
            _explore_arguments, _run_explore),
    Command("gradcheck", "check every op's and module's gradients against finite differences",
            _gradcheck_arguments, _run_gradcheck),
    Command("exercises", "write the backward yourself: init writes the exercises, check checks them",
            _exercises_arguments, _run_exercises),
    Command("bench", "time training steps and op overhead against plain NumPy and PyTorch",
            bench.add_arguments, _run_bench),
    Command("export", "write the network a demo run saved as an ONNX file", _export_arguments, _run_export),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subcommand per row of ``COMMANDS``."""
    parser = _Parser(prog=PROG, description="tinygrad_edu: a small autodiff framework on NumPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def _subcommand_parsers(parser) -> dict:
    """{name: parser} of the subcommands ``build_parser`` added."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def main(argv=None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return its exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        check_options(parser, _subcommand_parsers(parser), argv)
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
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
