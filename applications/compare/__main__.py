"""Race the optimizers: the pipelines' tasks and the 10-5-10 encoder.

    python -m applications.compare --output runs/compare      # everything
    python -m applications.compare --tasks encoder,digits --optimizers irprop-,adam

Every chosen optimizer trains every chosen task with the same model, split,
seeds and budget (`--budget-seconds` of training or `--epochs`, whichever
comes first), each with its class default hyper-parameters: the same
optimizer object on every task, no per-task learning rate (Rprop's initial
step 0.01, SGD's learning rate 0.01, Adam's 0.001, ...). The output
directory gets comparison.md (the tables, also printed), comparison.json
(the same plus every run's curve and the machine's load average) and
<task>.png (validation curves, mean over seeds, by epoch and by second).
The defaults take about half an hour on two CPU cores.
"""

import argparse
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from applications.common import cli
from applications.common.optimizers import OPTIMIZERS

PROG = "python -m applications.compare"
# The keys of tasks.LOADERS plus the encoder, named here so that parsing
# needs no Keras.
TASKS = ("encoder", "digits", "timeseries", "text", "music")
DEFAULT_BUDGET_SECONDS = 10.0
DEFAULT_EPOCHS = 500
DEFAULT_SEEDS = 3
ENCODER_STARTS = 25
ENCODER_EPOCHS = 500


def name_list(valid: Sequence[str], kind: str) -> Callable[[str], list[str]]:
    """argparse type: comma-separated names out of `valid`, each once."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",")]
        if not text.strip() or "" in names:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind} names, got {text!r}; "
                f"valid: {', '.join(valid)}"
            )
        unknown = [name for name in names if name not in valid]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {kind} {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(valid)}"
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise argparse.ArgumentTypeError(
                f"{kind} {', '.join(map(repr, repeated))} given more than once"
            )
        return names

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The flags of the race."""
    parser = cli.ArgumentParser(
        prog=PROG,
        description="Train every chosen optimizer on every chosen task with the "
        "same model, data split, seeds and budget; write comparison.md, "
        "comparison.json and one PNG of validation curves per task. Every "
        "optimizer keeps its class defaults on every task (no per-task "
        "learning rate); the Rprop variants train on the full batch, the "
        "others on batches of 32.",
        formatter_class=cli.HelpFormatter,
    )
    parser.add_argument(
        "--tasks",
        type=name_list(TASKS, "task"),
        default=",".join(TASKS),
        metavar="A,B,...",
        help="encoder: the 10-5-10 encoder over random starts (solved when "
        "every output is within 0.4 of its target); compact versions of the "
        "pipelines, each with a validation target: digits (dense 64, accuracy "
        "0.95), timeseries (sunspots, GRU 32, AR(9)'s MAE), text (language of "
        "an utterance, char GRU 32 on 3,000 texts, accuracy 0.6), music (Bach "
        "chorales, GRU 64, BPTT(32; 32), the bigram's NLL); any of "
        f"{', '.join(TASKS)}",
    )
    choices = "; ".join(f"{name}: {c.summary}" for name, c in OPTIMIZERS.items())
    parser.add_argument(
        "--optimizers",
        type=name_list(tuple(OPTIMIZERS), "optimizer"),
        default=",".join(OPTIMIZERS),
        metavar="A,B,...",
        help=f"the optimizers ({choices})",
    )
    parser.add_argument(
        "--budget-seconds",
        type=cli.positive_float,
        default=DEFAULT_BUDGET_SECONDS,
        metavar="N",
        help="training seconds a run (validation excluded); pipeline tasks",
    )
    parser.add_argument(
        "--epochs",
        type=cli.positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help="at most this many epochs a run; pipeline tasks",
    )
    parser.add_argument(
        "--seeds",
        type=cli.positive_int,
        default=DEFAULT_SEEDS,
        metavar="N",
        help="runs a task and optimizer, seeds 0 .. N-1 (weight initialisation "
        "and batch order; the split is fixed)",
    )
    parser.add_argument(
        "--encoder-starts",
        type=cli.positive_int,
        default=ENCODER_STARTS,
        metavar="N",
        help="random starts of the encoder, the same for every optimizer",
    )
    parser.add_argument(
        "--encoder-epochs",
        type=cli.positive_int,
        default=ENCODER_EPOCHS,
        metavar="N",
        help="a start not solved after this many epochs counts as failed",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("runs/compare"),
        metavar="DIR",
        help="where to write comparison.md, comparison.json and the PNGs",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the race on `argv` (default: `sys.argv[1:]`); the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = cli.parse_args(build_parser(), argv)
    command = " ".join([PROG, *map(shlex.quote, argv)])
    return cli.run_app(PROG, lambda: _race(args, command))


def _race(args: argparse.Namespace, command: str) -> None:
    # TensorFlow starts only once the arguments are known good.
    from applications.common.report import write_metrics
    from applications.compare import report

    results = {
        "command": command,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_start": list(os.getloadavg()),
        },
        "settings": {
            "tasks": args.tasks,
            "optimizers": {name: OPTIMIZERS[name].summary for name in args.optimizers},
            "budget_seconds": args.budget_seconds,
            "max_epochs": args.epochs,
            "seeds": args.seeds,
            "encoder_starts": args.encoder_starts,
            "encoder_epochs": args.encoder_epochs,
        },
        "tasks": {},
    }
    # A PNG of an earlier race into the same directory would sit beside a
    # report that no longer mentions it.
    for name in set(TASKS) - set(args.tasks):
        (args.output / f"{name}.png").unlink(missing_ok=True)
    start = time.perf_counter()
    for name in args.tasks:
        if name == "encoder":
            results["encoder"] = _encoder(args)
        else:
            results["tasks"][name] = _task(args, name)
        results["machine"]["load_average_end"] = list(os.getloadavg())
        results["wall_seconds"] = time.perf_counter() - start
        # Written after every task: a long race that stops keeps what it did.
        write_metrics(args.output / report.JSON_FILE, report.json_ready(results))
        table = report.markdown(results)
        (args.output / report.MARKDOWN_FILE).write_text(table)
    print(table)
    print(f"{results['wall_seconds']:.0f} s in all; report in {args.output}")


def _encoder(args: argparse.Namespace) -> dict:
    from applications.compare import encoder

    initial = encoder.starts(args.encoder_starts)
    rows = {}
    for name in args.optimizers:
        raced = encoder.race(name, initial, max_epochs=args.encoder_epochs)
        rows[name] = {**encoder.summary(raced["epochs"]), **raced}
        row = rows[name]
        median = row["median_epochs"]
        print(
            f"encoder {name}: {row['solved']}/{row['starts']} solved, median "
            f"epochs {'-' if median is None else median} ({raced['seconds']:.1f} s)",
            flush=True,
        )
    return {
        "starts": args.encoder_starts,
        "max_epochs": args.encoder_epochs,
        "tolerance": encoder.TOLERANCE,
        "rows": rows,
    }


def _task(args: argparse.Namespace, name: str) -> dict:
    from applications.compare import race, report, tasks

    task = tasks.LOADERS[name]()
    # One untimed epoch first: TensorFlow's one-time start-up on a task
    # would otherwise fall on whichever optimizer runs first.
    race.run(task, args.optimizers[0], 0, budget_seconds=1.0, max_epochs=1)
    runs = {optimizer: [] for optimizer in args.optimizers}
    total, done = args.seeds * len(args.optimizers), 0
    # The optimizers take turns seed by seed, so a change in the machine's
    # load falls on all of them alike.
    for seed in range(args.seeds):
        for optimizer in args.optimizers:
            run = race.run(
                task,
                optimizer,
                seed,
                budget_seconds=args.budget_seconds,
                max_epochs=args.epochs,
            )
            runs[optimizer].append(run)
            done += 1
            reached = (
                "target not reached"
                if run["reached"] is None
                else f"target at epoch {run['reached'][0]} ({run['reached'][1]:.1f} s)"
            )
            print(
                f"[{name} {done}/{total}] {optimizer} seed {seed}: "
                f"{run['epochs']} epochs, {task.test_label} {run['test']:.4f}, "
                f"{reached}",
                flush=True,
            )
    report.plot_curves(
        runs,
        args.output / f"{name}.png",
        title=f"{name}: {task.about}",
        metric_label=task.metric_label,
        target=task.target.threshold,
    )
    return {
        "about": task.about,
        "metric_label": task.metric_label,
        "test_label": task.test_label,
        "target": {
            "threshold": task.target.threshold,
            "higher_is_better": task.target.higher_is_better,
            "description": task.target.description,
        },
        "facts": dict(task.facts),
        "rows": {opt: report.summarize_task(r) for opt, r in runs.items()},
        "runs": runs,
    }


if __name__ == "__main__":
    sys.exit(main())
