"""Train the runs, score them and the baselines on the test part, report.

Every forecaster is scored on the same test points, each forecast made from
the data up to H steps before its target (a rolling origin).
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from applications.common import report
from applications.common.data import Splits
from applications.common.series_plot import plot_series
from applications.timeseries import baselines, data, model
from applications.timeseries.data import Series, Windows

FORECAST_PLOT = "forecast.png"
METRICS = ("mae", "rmse", "mase")


def run(
    args: argparse.Namespace, series: Series, windows: Windows, splits: Splits
) -> dict:
    """Score the baselines, train `args.runs` models, print and write the report."""
    values = series.values
    train_end = windows.boundaries[0]
    scale = baselines.mase_scale(values[:train_end])
    origins = windows.origins["test"]
    targets = values[windows.test_targets()]

    baseline_forecasts, baseline_seconds = _baselines(args, series, windows)
    table = {
        name: baselines.errors(targets, forecast, scale)
        for name, forecast in baseline_forecasts.items()
    }

    runs = []
    start = time.perf_counter()
    for seed in range(args.seed, args.seed + args.runs):
        trained = model.train(
            splits,
            lambda: model.build(
                args.cell, args.units, windows.horizon, k1=args.k1, k2=args.k2
            ),
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            epochs=args.epochs,
            patience=args.patience,
            seed=seed,
            verbose=args.verbose,
        )
        scaled = model.predict(trained.model, splits.test[0])
        forecast = windows.forecast(values, origins, scaled)[:, -1]
        runs.append(
            (seed, trained, forecast, baselines.errors(targets, forecast, scale))
        )
    wall = time.perf_counter() - start

    median = {m: statistics.median(r[3][m] for r in runs) for m in METRICS}
    label = f"{args.cell.upper()} {args.optimizer}"
    label += f" (median of {args.runs})" if args.runs > 1 else ""
    # The run nearest the median MAE is the one kept, plotted and saved.
    kept = min(runs, key=lambda r: abs(r[3]["mae"] - median["mae"]))
    best_name = min(table, key=lambda name: table[name]["mae"])
    classical = [name for name in baseline_forecasts if name not in _NAIVE]
    best_classical = min(classical, key=lambda n: table[n]["mae"], default=None)

    _print_table(series, windows, {label: median, **table})
    output = args.output
    plot_series(
        series.time[windows.test_targets()],
        targets,
        {label: kept[2], best_name: baseline_forecasts[best_name]},
        output / FORECAST_PLOT,
        title=f"{series.name}: test part, {windows.horizon} step(s) ahead",
        ylabel=series.unit,
    )
    trained = kept[1]
    report.plot_learning_curve(
        trained.history, output / report.CURVE_FILE, title=f"{label}, seed {kept[0]}"
    )
    trained.model.save(output / report.MODEL_FILE)
    forecaster = {**windows.scaling(), "data": data.data_source(args)}
    (output / data.FORECASTER_FILE).write_text(json.dumps(forecaster, indent=2))

    metrics = {
        "task": "timeseries",
        "series": series.name,
        "length": len(series),
        "filled_by_interpolation": series.filled,
        "season": series.season,
        "window": windows.window,
        "horizon": windows.horizon,
        "parts": {
            "boundaries": list(windows.boundaries),
            **{f"{part}_windows": len(o) for part, o in windows.origins.items()},
        },
        "mase_scale": scale,
        "model": {
            "cell": args.cell,
            "units": args.units,
            "k1": args.k1,
            "k2": args.k2,
            "parameters": trained.model.count_params(),
        },
        "optimizer": {
            "name": args.optimizer,
            "class": type(trained.optimizer).__name__,
            "config": trained.optimizer.get_config(),
        },
        "test": {"model_median": median, **table},
        "best_baseline": best_name,
        "best_classical": best_classical,
        "model_mae_over_best_classical": (
            median["mae"] / table[best_classical]["mae"] if best_classical else None
        ),
        "runs": [
            {
                "seed": seed,
                "test": errors,
                "epochs": len(t.history["loss"]),
                "best_epoch": t.best_epoch,
                "batch_size": t.batch_size,
                "fit_seconds": round(t.fit_seconds, 3),
            }
            for seed, t, _, errors in runs
        ],
        "kept_run_seed": kept[0],
        "training_wall_seconds": round(wall, 3),
        "baseline_seconds": baseline_seconds,
        "history": trained.history,
    }
    report.write_metrics(output / report.METRICS_FILE, metrics)
    fits = ", ".join(f"{r['fit_seconds']:.0f}" for r in metrics["runs"])
    print(
        f"training: {args.runs} run(s), {fits} s each; best baseline {best_name}; "
        f"report in {output}"
    )
    return metrics


_NAIVE = ("persistence", "seasonal naive")


def _baselines(args, series: Series, windows: Windows) -> tuple[dict, dict]:
    """Each baseline's test forecasts, and the seconds each took."""
    values = series.values
    origins = windows.origins["test"]
    forecasters = {"persistence": baselines.persistence}
    if series.season > 1:
        forecasters["seasonal naive"] = baselines.seasonal_naive(series.season)
    train = values[: windows.boundaries[0]]
    classical = (
        baselines.classical_for(_dataset_key(args), series.season)
        if args.classical
        else []
    )
    forecasts, seconds = {}, {}
    for name, forecaster in forecasters.items():
        forecasts[name] = forecaster(values, origins, windows.horizon)
    for spec in classical:
        start = time.perf_counter()
        forecaster = spec.forecaster(train, args.cache_dir)
        forecasts[spec.name] = forecaster(values, origins, windows.horizon)
        seconds[spec.name] = round(time.perf_counter() - start, 3)
    return forecasts, seconds


def _dataset_key(args) -> str | None:
    return None if args.csv is not None else (args.dataset or "co2")


def _print_table(series: Series, windows: Windows, table: dict) -> None:
    width = max(len(name) for name in table) + 2
    unit = f" ({series.unit})" if series.unit else ""
    print(
        f"{series.name}: test part, {len(windows.origins['test'])} forecasts "
        f"{windows.horizon} step(s) ahead from a rolling origin{unit}"
    )
    print(f"{'forecaster':<{width}}" + "".join(f"{m.upper():>10}" for m in METRICS))
    for name, errors in table.items():
        print(f"{name:<{width}}" + "".join(f"{errors[m]:>10.4f}" for m in METRICS))


def forecast_after_end(directory: Path, scaling: dict, values: np.ndarray):
    """The saved model's forecasts of the `horizon` steps after `values`."""
    windows = Windows.from_scaling(scaling)
    trained = keras.saving.load_model(directory / report.MODEL_FILE)
    origin = np.array([len(values) - 1])
    scaled = model.predict(trained, windows.inputs(values, origin))
    return windows.forecast(values, origin, scaled)[0]
