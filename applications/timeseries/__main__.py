"""Forecast a real series with BPTT, against the naive and classical forecasters.

    python -m applications.timeseries                     # weekly CO2, one step
    python -m applications.timeseries --horizon 13        # a quarter ahead
    python -m applications.timeseries --dataset sunspots
    python -m applications.timeseries --csv FILE --column NAME [--time-column T]
    python -m applications.timeseries predict --model runs/timeseries

Data -> locally normalised windows -> `keras_bp.BPTTModel` trained `--runs`
times (seeds `--seed`, `--seed` + 1, ...) with early stopping -> rolling-origin
forecasts of the test part -> MAE, RMSE and MASE of the model (the median
over the runs) and of persistence, seasonal naive and statsmodels' classical
models on the same test points. The output directory gets metrics.json, the
table, forecast.png (the test period: actual, the model, the best baseline),
learning_curve.png, and the median run's model.keras with forecaster.json
(the window and scales `predict` needs). See the README for the measured
table.
"""

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from applications.common import cli
from applications.timeseries import data

PROG = "python -m applications.timeseries"
DEFAULT_EPOCHS = 300
# The keys of model.CELLS, named here so that parsing needs no Keras.
CELLS = ("simple", "gru", "lstm")
DEFAULT_CACHE = Path("~/.cache/keras-bp/timeseries")
DEFAULT_OPTIMIZER = "recurrent"
# With RecurrentBackprop's own 0.01 on Keras's batches of 32 the GRU reaches
# the same CO2 test MAE (0.298) in three times the training time; 0.08 on
# batches of 128 trains in 50-190 s a run at 1 and 13 weeks ahead, 0.04 left
# one 13-week run stuck at 0.82.
RECURRENT_LEARNING_RATE = 0.08
RECURRENT_BATCH_SIZE = 128


def build_parser() -> argparse.ArgumentParser:
    """The shared flags plus the data, window, model and evaluation flags."""
    parser = cli.build_parser(
        PROG,
        "Forecast a series with keras_bp.BPTTModel and compare it with "
        "persistence, seasonal naive and classical models; "
        "`predict --model DIR` forecasts past the end of a series.",
        default_epochs=DEFAULT_EPOCHS,
        default_output="runs/timeseries",
    )
    parser.set_defaults(optimizer=DEFAULT_OPTIMIZER)
    cli.set_help(
        parser,
        {
            "learning_rate": "the learning rate (for Rprop: the initial step "
            f"size); default: {RECURRENT_LEARNING_RATE} for recurrent, else the "
            "optimizer's own",
            "batch_size": "examples a step; default: "
            f"{RECURRENT_BATCH_SIZE} for recurrent, the whole training set for "
            "the Rprop variants (a full-batch method), 32 for the others",
        },
    )
    _add_data_flags(parser)
    parser.add_argument(
        "--window",
        type=cli.positive_int,
        default=None,
        help="past steps a forecast sees; default: 104 for co2, 22 for "
        "sunspots, two seasons (or 24 steps) for --csv",
    )
    parser.add_argument(
        "--horizon",
        type=cli.positive_int,
        default=1,
        help="steps ahead; the model forecasts every step up to it and is "
        "scored on the last",
    )
    parser.add_argument("--cell", choices=CELLS, default="gru", help="the cell")
    parser.add_argument(
        "--units", type=cli.positive_int, default=32, help="units of the cell"
    )
    parser.add_argument(
        "--k1",
        type=cli.positive_int,
        default=None,
        help="truncated BPTT: steps between updates (the loss is on the "
        "window's last step, so only --k2 changes the gradient); "
        "default: full BPTT",
    )
    parser.add_argument(
        "--k2",
        type=cli.positive_int,
        default=None,
        help="truncated BPTT: steps the gradient flows back, >= --k1",
    )
    parser.add_argument(
        "--patience",
        type=cli.positive_int,
        default=20,
        help="stop after this many epochs without a better validation loss "
        "(the best weights are kept)",
    )
    parser.add_argument(
        "--runs",
        type=cli.positive_int,
        default=3,
        help="models trained, with seeds --seed, --seed + 1, ...; the median "
        "test error is reported",
    )
    parser.add_argument(
        "--classical",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fit statsmodels' classical models as baselines (SARIMA and ETS "
        "for co2, AR(9) and ETS for sunspots, ETS otherwise)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE,
        metavar="DIR",
        help="where the classical models' fits are kept between runs",
    )
    return parser


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=data.DATASETS,
        default=None,
        help="co2: statsmodels' weekly Mauna Loa CO2 (the default); sunspots: "
        "statsmodels' yearly sunspot numbers",
    )
    parser.add_argument(
        "--csv", type=Path, default=None, metavar="PATH", help="your own series"
    )
    parser.add_argument(
        "--column", default=None, metavar="NAME", help="the --csv column to forecast"
    )
    parser.add_argument(
        "--time-column",
        default=None,
        metavar="NAME",
        help="the --csv column of time stamps (missing values are then "
        "interpolated in time)",
    )
    parser.add_argument(
        "--season",
        type=cli.positive_int,
        default=None,
        help="steps in a seasonal cycle; default: 52 for co2, 11 for sunspots, "
        "1 (none) for --csv",
    )


def build_predict_parser() -> argparse.ArgumentParser:
    """`predict --model DIR` and the data flags."""
    parser = cli.build_model_parser(
        f"{PROG} predict",
        "Forecast the steps after the end of a series with a trained model "
        "(from the series' last --window values).",
        "the --output directory of a training run",
    )
    _add_data_flags(parser)
    return parser


def _check_data_flags(parser: argparse.ArgumentParser, args) -> None:
    """Flags that only make sense together, checked before anything loads."""
    if args.csv is not None and args.dataset is not None:
        parser.error("argument --csv: not allowed with --dataset")
    if args.csv is not None and args.column is None:
        parser.error("argument --csv: needs --column NAME")
    if args.csv is None and (args.column or args.time_column):
        flag = "--column" if args.column else "--time-column"
        parser.error(f"argument {flag}: only with --csv")


def _check_truncation(parser: argparse.ArgumentParser, args) -> None:
    if (args.k1 is None) != (args.k2 is None):
        parser.error("arguments --k1 and --k2: give both or neither")
    if args.k1 is not None and args.k2 < args.k1:
        parser.error(f"argument --k2: must be >= --k1 ({args.k1}), got {args.k2}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline on `argv` (default: `sys.argv[1:]`); the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["predict"]:
        parser = build_predict_parser()
        args = parser.parse_args(argv[1:])
        _check_data_flags(parser, args)
        return cli.run_app(f"{PROG} predict", lambda: _predict(args))
    parser = build_parser()
    args = cli.parse_args(parser, argv)
    _check_data_flags(parser, args)
    _check_truncation(parser, args)
    if args.optimizer == "recurrent":
        if args.learning_rate is None:
            args.learning_rate = RECURRENT_LEARNING_RATE
        if args.batch_size is None:
            args.batch_size = RECURRENT_BATCH_SIZE
    return cli.run_app(PROG, lambda: _train(args))


def _load(args: argparse.Namespace) -> data.Series:
    if args.csv is not None:
        return data.load_csv(
            args.csv, args.column, args.time_column, season=args.season or 1
        )
    series = data.load(args.dataset or data.DEFAULT_DATASET)
    if args.season is not None:
        series = dataclasses.replace(series, season=args.season)
    return series


def _train(args: argparse.Namespace) -> None:
    series = _load(args)
    if 2 * series.season > len(series):
        raise cli.AppError(
            f"--season {series.season}: the series has {len(series)} values, "
            "fewer than two seasons"
        )
    window = args.window or series.window
    windows = data.make_windows(series.values, window, args.horizon)
    splits = windows.splits(series.values)
    # TensorFlow starts only once the arguments and the data are known good.
    from applications.timeseries import evaluation

    evaluation.run(args, series, windows, splits)


def _predict(args: argparse.Namespace) -> None:
    path = args.model / data.FORECASTER_FILE
    if not path.is_file():
        raise cli.AppError(
            f"--model: {args.model} holds no {data.FORECASTER_FILE}; give the "
            "--output directory of a training run"
        )
    saved = json.loads(path.read_text())
    _use_trained_series(args, saved.get("data"))
    series = _load(args)
    window, horizon = saved["window"], saved["horizon"]
    if len(series) < window:
        raise cli.AppError(
            f"the series has {len(series)} values, fewer than the model's "
            f"window of {window}"
        )
    from applications.timeseries import evaluation

    forecasts = evaluation.forecast_after_end(args.model, saved, series.values)
    print(
        f"{series.name}: last value "
        f"{' '.join(filter(None, [f'{series.values[-1]:.4f}', series.unit]))}; "
        f"the next {horizon} steps:"
    )
    for step, value in enumerate(forecasts, start=1):
        print(f"  +{step}: {value:.4f}")


def _use_trained_series(args: argparse.Namespace, trained_on: dict | None) -> None:
    """Forecast the training series by default; refuse another series.

    The saved scales belong to that series. A CSV file may be another one
    (the same series, grown), its column may not.
    """
    if trained_on is None:
        return
    if args.csv is None and args.dataset is None:
        args.dataset = trained_on.get("dataset")
        if "csv" in trained_on:
            args.csv = Path(trained_on["csv"])
            args.column = trained_on["column"]
            args.time_column = trained_on["time_column"]
        return
    given = data.data_source(args)
    same = ("dataset", "column")
    if any(given.get(key) != trained_on.get(key) for key in same):
        described = ", ".join(f"{k}={v}" for k, v in trained_on.items() if v)
        raise cli.AppError(
            f"--model was trained on {described}; forecast that series (give no "
            "data flags to use it again), not another"
        )


if __name__ == "__main__":
    sys.exit(main())
