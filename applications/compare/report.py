"""The race's results: summaries, comparison.md, comparison.json, curve PNGs.

`summarize_task` and `summarize_encoder` turn raw runs into table rows;
`markdown` renders every table; `plot_curves` draws one task's validation
curves, the mean over seeds, against epochs and against seconds. Numbers
that are not finite (a diverged run) become None in the JSON and
"diverged" in the tables.
"""

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

# Plots go to files only; no display is needed (or present on a server).
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MARKDOWN_FILE = "comparison.md"
JSON_FILE = "comparison.json"


def finite_or_none(value: float | None) -> float | None:
    """`value`, or None when it is None, NaN or infinite."""
    return value if value is not None and math.isfinite(value) else None


def mean_and_spread(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (0 for one value) of the finite values."""
    kept = [v for v in values if finite_or_none(v) is not None]
    if not kept:
        return None, None
    return statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else 0.0


def summarize_task(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One optimizer's row on a task, from its runs (one per seed).

    The test metric's mean and spread leave out diverged runs (a loss that
    became NaN or infinite stops a run, and its weights then say nothing);
    `diverged` counts them. The epochs and seconds to the target are
    medians over the seeds that reached it; `reached` counts them.
    """
    test_mean, test_std = mean_and_spread(
        [r["test"] for r in runs if not r["diverged"]]
    )
    hits = [r["reached"] for r in runs if r["reached"] is not None]
    return {
        "seeds": len(runs),
        "batch_size": runs[0]["batch_size"],
        "test_mean": test_mean,
        "test_std": test_std,
        "diverged": sum(bool(r["diverged"]) for r in runs),
        "mean_epochs_run": statistics.fmean(r["epochs"] for r in runs),
        "reached": len(hits),
        "median_epochs_to_target": statistics.median(h[0] for h in hits)
        if hits
        else None,
        "median_seconds_to_target": statistics.median(h[1] for h in hits)
        if hits
        else None,
    }


def mean_curve(runs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, ...]:
    """Epochs, mean seconds and mean validation metric over the seeds.

    Only the epochs every seed ran are kept, so each point averages all of
    them.
    """
    length = min(len(r["curve"]) for r in runs)
    curves = np.array([r["curve"][:length] for r in runs], np.float64)
    seconds = np.array([r["seconds"][:length] for r in runs], np.float64)
    return np.arange(1, length + 1), seconds.mean(axis=0), curves.mean(axis=0)


def plot_curves(
    runs_by_optimizer: Mapping[str, Sequence[Mapping[str, Any]]],
    path: Path,
    *,
    title: str,
    metric_label: str,
    target: float,
) -> None:
    """Two panels of every optimizer's mean validation curve: by epoch, by second.

    Diverged runs are left out (their numbers would swamp the scale); an
    optimizer whose every run diverged has no curve.
    """
    figure, (by_epoch, by_second) = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, runs in runs_by_optimizer.items():
        kept = [run for run in runs if not run["diverged"]]
        if not kept:
            continue
        epochs, seconds, curve = mean_curve(kept)
        # Markers, so that a curve of one epoch still shows.
        (line,) = by_epoch.plot(
            epochs, curve, label=name, linewidth=1.2, marker=".", markersize=3
        )
        by_second.plot(
            seconds,
            curve,
            color=line.get_color(),
            linewidth=1.2,
            marker=".",
            markersize=3,
        )
    for axis, label in ((by_epoch, "epoch"), (by_second, "training seconds")):
        axis.axhline(target, color="black", linestyle=":", linewidth=1, label="target")
        axis.set_xlabel(label)
        axis.set_ylabel(metric_label)
        axis.grid(True, alpha=0.3)
    by_epoch.set_xscale("log")
    by_epoch.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _epochs(value: float | None) -> str:
    """An epoch count, or a median of an even number of them (x.5)."""
    return "" if value is None else f"{value:g}"


def task_table(result: Mapping[str, Any], load: str) -> str:
    """The Markdown table of one task."""
    header = (
        f"| optimizer | batch | {result['test_label']}, mean ± std | mean epochs run | "
        f"reached target | epochs to target | seconds to target ({load}) |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for name, row in result["rows"].items():
        if row["test_mean"] is None:
            test = "diverged"
        else:
            test = f"{row['test_mean']:.4f} ± {row['test_std']:.4f}"
            if row["diverged"]:
                test += f" ({row['diverged']} diverged)"
        lines.append(
            f"| `{name}` | {row['batch_size']} | {test} | "
            f"{row['mean_epochs_run']:.0f} | {row['reached']}/{row['seeds']} | "
            f"{_epochs(row['median_epochs_to_target'])} | "
            f"{_number(row['median_seconds_to_target'], 1)} |"
        )
    return "\n".join(lines)


def encoder_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """The Markdown table of the encoder."""
    lines = [
        "| optimizer | solved | epochs to solution: mean | median | min-max |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        spread = (
            ""
            if row["min_epochs"] is None
            else f"{row['min_epochs']}-{row['max_epochs']}"
        )
        lines.append(
            f"| `{name}` | {row['solved']}/{row['starts']} "
            f"({row['fraction_solved']:.0%}) | {_number(row['mean_epochs'], 1)} | "
            f"{_epochs(row['median_epochs'])} | {spread} |"
        )
    return "\n".join(lines)


def markdown(results: Mapping[str, Any]) -> str:
    """All tables of `results` (what `comparison.json` holds) as Markdown."""
    machine = results["machine"]
    settings = results["settings"]
    start, end = machine["load_average_start"][0], machine["load_average_end"][0]
    load = f"wall-clock, load {start:.1f}-{end:.1f}"
    parts = [
        "# Optimizer comparison",
        f"`{results['command']}` on {machine['cpus']} CPU(s). Seconds are "
        "wall-clock training seconds on this machine (validation excluded, the "
        "first epoch's graph tracing included); the 1-minute load average was "
        f"{start:.2f} at the start and {end:.2f} at the end, so they hold for "
        "this machine at that load and compare fairly only within a table. "
        "Every optimizer keeps its class defaults.",
    ]
    if results["tasks"]:
        seeds = settings["seeds"]
        parts.append(
            f"Pipeline tasks: each run at most {settings['budget_seconds']:g} s of "
            f"training or {settings['max_epochs']} epochs; "
            + ("seed 0" if seeds == 1 else f"seeds 0-{seeds - 1}")
            + "; full batch for the Rprop variants, 32 otherwise. Test metric: "
            "mean ± sample std over the seeds; epochs and seconds to target: "
            "median over the seeds that reached it."
        )
    for name, task in results["tasks"].items():
        parts.append(f"## {name}: {task['about']}")
        parts.append(f"Target: {task['target']['description']}.")
        parts.append(task_table(task, load))
    if "encoder" in results:
        encoder = results["encoder"]
        parts.append("## encoder: 10-5-10, sigmoid, full batch, summed squared error")
        parts.append(
            f"{encoder['starts']} random starts (weights uniform in [-1, 1]), "
            f"solved when every output is strictly within {encoder['tolerance']} "
            f"of its target, at most {encoder['max_epochs']} epochs."
        )
        parts.append(encoder_table(encoder["rows"]))
    return "\n\n".join(parts) + "\n"


def json_ready(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if isinstance(value, float | np.floating):
        return finite_or_none(float(value))
    return value
