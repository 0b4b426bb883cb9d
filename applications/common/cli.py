"""Command-line flags and one-line error exits shared by every pipeline."""

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from applications.common.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS


class AppError(Exception):
    """A failure the user can fix (e.g. missing data): one line, no traceback."""


class ArgumentParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose errors fit on one line.

    argparse prints the whole usage block before the error; here the error
    alone goes to stderr (`--help` still shows the usage) and the exit status
    stays 2.
    """

    def __init__(self, *args, **kwargs):
        # No abbreviations: `--seed 3` must not pass for `--seeds 3`.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return _positive(text, int, "integer")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _positive(text, float, "number")


def seed(text: str) -> int:
    """argparse type: a random seed, an integer from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {2**32 - 1}, got {text!r}"
        )
    return value


def _positive(text, convert, kind):
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive {kind}, got {text}")
    return value


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except a `None` that the help text explains."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def set_help(parser: argparse.ArgumentParser, helps: dict[str, str]) -> None:
    """Replace the help of the flags whose `dest` is a key of `helps`.

    For a task whose default of a shared flag differs from the shared one.
    """
    for action in parser._actions:
        action.help = helps.get(action.dest, action.help)


def existing_dir(text: str) -> Path:
    """argparse type: a directory that exists."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory: {text}")
    return path


def build_parser(
    prog: str,
    description: str,
    *,
    default_epochs: int,
    default_output: str,
) -> ArgumentParser:
    """A parser with the flags every pipeline has; add the task's own to it.

    Flags: `--optimizer`, `--learning-rate`, `--epochs`, `--batch-size`,
    `--data-dir`, `--output`, `--seed`, `--verbose`.
    """
    parser = ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=HelpFormatter,
    )
    choices = "; ".join(f"{name}: {c.summary}" for name, c in OPTIMIZERS.items())
    parser.add_argument(
        "--optimizer",
        choices=list(OPTIMIZERS),
        default=DEFAULT_OPTIMIZER,
        help=f"the optimizer ({choices})",
    )
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        default=None,
        help="the learning rate (for Rprop: the initial step size); "
        "default: the optimizer's own",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=default_epochs, help="training epochs"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="examples a step; default: the whole training set for the Rprop "
        "variants (a full-batch method), 32 for the others",
    )
    parser.add_argument(
        "--data-dir",
        type=existing_dir,
        default=None,
        metavar="DIR",
        help="directory holding prepared data sets (for data that does not ship "
        "with an installed package)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(default_output),
        metavar="DIR",
        help="where to write metrics.json, the learning curve and the model",
    )
    parser.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="seeds the weight initialisation and the batch order "
        "(the train/validation/test split is fixed)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras's fit verbosity: 0 silent, 1 progress bar, 2 one line an epoch",
    )
    return parser


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse `argv` and make sure `--output` is a writable directory.

    Bad input exits here with status 2 and a one-line message, before any
    data is loaded or any model built.
    """
    args = parser.parse_args(argv)
    args.output = args.output.expanduser()
    try:
        args.output.mkdir(parents=True, exist_ok=True)
        # As root, permission bits say nothing: only a real write tells.
        with tempfile.TemporaryFile(dir=args.output):
            pass
    except OSError as error:
        parser.error(
            f"argument --output: cannot write to {args.output}: "
            f"{error.strerror or error}"
        )
    return args


def run_app(prog: str, job: Callable[[], object]) -> int:
    """Run `job`; an `AppError` becomes one line on stderr and exit status 1.

    Ctrl-C stops it with one line too, and the shell's status for it (130).
    """
    try:
        job()
    except AppError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 0


def build_model_parser(prog: str, description: str, model_help: str) -> ArgumentParser:
    """A parser for a command that uses a trained run: `--model DIR` (required).

    For the `predict` / `generate` commands beside a pipeline's training.
    """
    parser = ArgumentParser(
        prog=prog,
        description=description,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--model",
        type=existing_dir,
        required=True,
        metavar="DIR",
        help=model_help,
    )
    return parser
