"""applications.timeseries: windows, baselines against references, the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from applications.common.cli import AppError
from applications.timeseries import baselines, data
from applications.timeseries.__main__ import main

# --- windows and the split ----------------------------------------------------


@pytest.mark.parametrize("window, horizon", [(104, 1), (104, 13), (5, 3)])
def test_last_training_target_precedes_first_test_input(window, horizon):
    values = data.load_co2().values
    windows = data.make_windows(values, window, horizon)
    last_train_target = windows.origins["train"][-1] + horizon
    first_test_input = windows.origins["test"][0] - window + 1
    assert last_train_target < first_test_input
    train_end, validation_end = windows.boundaries
    assert last_train_target < train_end
    # Every window's last target lies in its own part, and every test point is
    # forecast: the test targets are exactly the test part.
    np.testing.assert_array_equal(
        windows.test_targets(), np.arange(validation_end, len(values))
    )
    val_targets = windows.origins["validation"] + horizon
    assert val_targets[0] == train_end and val_targets[-1] == validation_end - 1


def test_windows_hold_changes_from_the_last_value_scaled_on_training_only():
    values = np.arange(40, dtype=np.float64) ** 2
    windows = data.make_windows(values, window=3, horizon=2)
    train_end = windows.boundaries[0]
    assert train_end == 28
    origin = 10
    inputs = windows.inputs(values, np.array([origin]))[0, :, 0]
    expected = np.array([64 - 100, 81 - 100, 0]) / windows.input_scale
    np.testing.assert_allclose(inputs, expected, rtol=1e-6)
    targets = windows.targets(values, np.array([origin]))[0]
    np.testing.assert_allclose(
        targets * windows.target_scale, [121 - 100, 144 - 100], rtol=1e-6
    )
    # The scales come from the training windows alone (origins 2..25).
    train_origins = np.arange(2, train_end - 2)
    np.testing.assert_array_equal(windows.origins["train"], train_origins)
    one_ahead = values[train_origins + 1] - values[train_origins]
    np.testing.assert_allclose(windows.target_scale[0], one_ahead.std())
    back = windows.forecast(values, np.array([origin]), targets[None])
    np.testing.assert_allclose(back[0], values[[11, 12]], rtol=1e-6)


def test_too_short_a_series_for_the_window_is_an_app_error():
    with pytest.raises(AppError, match="too few for --window 30"):
        data.make_windows(np.arange(100.0), window=30, horizon=1)


# --- baselines ------------------------------------------------------------------


def test_naive_forecasts_and_errors_by_hand():
    values = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0])
    origins = np.array([4, 5, 6])
    np.testing.assert_array_equal(baselines.persistence(values, origins, 1), [4, 6, 8])
    seasonal = baselines.seasonal_naive(3)
    # Target 5 from origin 4: one season (3) before it is value 2 -> 2.0.
    np.testing.assert_array_equal(seasonal(values, origins, 1), [2.0, 5.0, 4.0])
    # Horizon 4 > season 3: two seasons back from the target.
    np.testing.assert_array_equal(seasonal(np.arange(20.0), np.array([10]), 4), [8.0])
    scale = baselines.mase_scale(values[:5])  # |2| |1| |3| |1| -> 7 / 4
    assert scale == pytest.approx(1.75)
    got = baselines.errors([6.0, 8.0, 7.0], [4.0, 6.0, 8.0], scale)
    assert got["mae"] == pytest.approx(5 / 3)
    assert got["rmse"] == pytest.approx(np.sqrt(9 / 3))
    assert got["mase"] == pytest.approx(5 / 3 / 1.75)


def _seasonal_series(length=120, season=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return 10 + 0.1 * t + np.sin(2 * np.pi * t / season) + rng.normal(0, 0.2, length)


@pytest.mark.parametrize("horizon", [1, 3, 6])
def test_ets_rolling_forecast_matches_statsmodels_forecast_at_the_origin(horizon):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    values = _seasonal_series()
    train = values[:80]
    ets = baselines.ets(4)
    parameters = ets.fit(train)
    reference = ExponentialSmoothing(
        train,
        trend="add",
        seasonal="add",
        seasonal_periods=4,
        initialization_method="estimated",
    ).fit()
    got = ets.forecast(values, parameters, np.array([79]), horizon)
    assert got[0] == pytest.approx(reference.forecast(horizon)[-1], rel=1e-9)
    one_step = ets.forecast(train, parameters, np.arange(4, 79), 1)
    np.testing.assert_allclose(one_step, reference.fittedvalues[5:80], rtol=1e-9)


@pytest.mark.parametrize("horizon", [1, 4])
def test_ar_rolling_forecast_matches_autoreg_forecast(horizon):
    from statsmodels.tsa.ar_model import AutoReg

    values = _seasonal_series()
    train = values[:80]
    ar = baselines.autoregression(3)
    reference = AutoReg(train, lags=3, trend="c").fit()
    got = ar.forecast(values, ar.fit(train), np.array([79]), horizon)
    assert got[0] == pytest.approx(reference.forecast(horizon)[-1], rel=1e-9)


@pytest.mark.parametrize("horizon", [1, 5])
def test_sarima_rolling_forecast_matches_sarimax_forecast(horizon):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    values = _seasonal_series(length=100)
    model = baselines.sarima((1, 1, 1), (0, 1, 1, 4))
    parameters = model.fit(values[:70])
    origins = np.array([69, 80])
    got = model.forecast(values, parameters, origins, horizon)
    for origin, value in zip(origins, got, strict=True):
        # The same parameters, only the data up to the origin.
        reference = SARIMAX(
            values[: origin + 1], order=(1, 1, 1), seasonal_order=(0, 1, 1, 4)
        ).filter(np.asarray(parameters["params"]))
        assert value == pytest.approx(reference.forecast(horizon)[-1], rel=1e-7)


def test_classical_fit_is_cached_and_keyed_on_the_training_values(tmp_path):
    calls = []

    def fit(train):
        calls.append(len(train))
        return {"mean": float(np.mean(train))}

    model = baselines.Classical(
        "mean", {}, fit, lambda v, p, o, h: np.full(len(o), p["mean"])
    )
    first = model.forecaster(np.array([1.0, 2.0]), tmp_path)
    again = model.forecaster(np.array([1.0, 2.0]), tmp_path)
    other = model.forecaster(np.array([1.0, 4.0]), tmp_path)
    assert calls == [2, 2]
    origins = np.array([0])
    assert first(None, origins, 1)[0] == again(None, origins, 1)[0] == 1.5
    assert other(None, origins, 1)[0] == 2.5


# --- the command line -----------------------------------------------------------


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        status = main(argv)
        raise SystemExit(status)
    return exit_info.value.code, capsys.readouterr()


def _csv(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("", "y", "is empty"),
        ("t,y\n1,2\n", "z", "has no column 'z'; its columns are 't', 'y'"),
        ("y\n1\n2\nabc\n4\n", "y", "row 3 holds 'abc', expected a finite number"),
        ("y\n" + "1\n2\n" * 15, "y", "30 values, too few for --window 24"),
        ("y\n1\ninf\n3\n", "y", "row 2 holds 'inf', expected a finite number"),
        ("y\n" + "5.0\n" * 60, "y", "every value is 5.0; a constant series"),
        (
            "t,y\n2001-01-01,1\n2001-03-01,2\n2001-02-01,3\n",
            "y",
            "row 3 ('2001-02-01') does not come after row 2 ('2001-03-01')",
        ),
        ("t,y\n1990,1\n1991,2\n1991,3\n", "y", "row 3 ('1991') does not come after"),
    ],
    ids=[
        "empty",
        "missing-column",
        "non-numeric",
        "too-short",
        "infinite",
        "constant",
        "unsorted-dates",
        "repeated-years",
    ],
)
def test_bad_csv_exits_with_one_line(tmp_path, capsys, text, column, message):
    path = _csv(tmp_path, text)
    time = ["--time-column", "t"] if text.startswith("t,") and column == "y" else []
    code, captured = _run(
        ["--csv", path, "--column", column, *time, "--output", str(tmp_path / "out")],
        capsys,
    )
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--csv", "x.csv"], "--csv: needs --column"),
        (["--column", "y"], "--column: only with --csv"),
        (["--csv", "x.csv", "--column", "y", "--dataset", "co2"], "with --dataset"),
        (["--k1", "5"], "--k1 and --k2: give both or neither"),
        (["--k1", "5", "--k2", "3"], "--k2: must be >= --k1 (5), got 3"),
        (["--window", "0"], "expected a positive integer, got 0"),
        (["--cell", "transformer"], "invalid choice: 'transformer'"),
    ],
)
def test_bad_flags_exit_with_status_2(tmp_path, capsys, argv, message):
    code, captured = _run([*argv, "--output", str(tmp_path)], capsys)
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err


def test_a_directory_as_csv_and_too_long_a_season_exit_with_one_line(tmp_path, capsys):
    code, captured = _run(["--csv", str(tmp_path), "--column", "y"], capsys)
    assert code == 1
    assert captured.err.strip().endswith("is a directory, expected a CSV file")
    code, captured = _run(["--dataset", "sunspots", "--season", "400"], capsys)
    assert code == 1
    assert captured.err.strip().endswith(
        "--season 400: the series has 309 values, fewer than two seasons"
    )


def test_numeric_time_stamps_interpolate_by_their_value(tmp_path):
    path = _csv(tmp_path, "year,y\n1990,1\n1991,\n1994,9\n")
    series = data.load_csv(path, "y", "year")
    # 1991 lies a quarter of the way from 1990 to 1994.
    np.testing.assert_allclose(series.values, [1.0, 3.0, 9.0])
    np.testing.assert_array_equal(series.time, [1990, 1991, 1994])


def test_missing_csv_file_gives_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "applications.timeseries", "--csv"]
        + [str(tmp_path / "none.csv"), "--column", "y", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"python -m applications.timeseries: error: --csv: no such file: "
        f"{tmp_path / 'none.csv'}"
    ]


def test_end_to_end_on_a_slice_of_co2_then_predict(tmp_path, capsys):
    import pandas as pd
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data.iloc[:400]
    path = tmp_path / "co2.csv"
    frame.rename_axis("week").reset_index().to_csv(path, index=False)
    output = tmp_path / "run"
    argv = ["--csv", str(path), "--column", "co2", "--time-column", "week"]
    code, captured = _run(
        [*argv, "--window", "16", "--horizon", "2", "--epochs", "2", "--runs", "1"]
        + ["--units", "4", "--verbose", "0", "--output", str(output)]
        + ["--cache-dir", str(tmp_path / "cache"), "--season", "4"],
        capsys,
    )
    assert code == 0, captured.err
    for name in ("metrics.json", "forecast.png", "learning_curve.png", "model.keras"):
        assert (output / name).is_file(), name
    metrics = json.loads((output / "metrics.json").read_text())
    # The default: recurrent backprop at the pipeline's step and batch size.
    assert metrics["optimizer"]["class"] == "RecurrentBackprop"
    assert metrics["optimizer"]["config"]["learning_rate"] == pytest.approx(0.08)
    assert metrics["runs"][0]["batch_size"] == 128
    assert metrics["filled_by_interpolation"] == int(frame["co2"].isna().sum()) > 0
    assert set(metrics["test"]) == {
        "model_median",
        "persistence",
        "seasonal naive",
        "ETS",
    }
    # Persistence recomputed from the data, independently of the windows.
    values = pd.Series(frame["co2"]).interpolate(method="time").to_numpy()
    _, validation_end = data.split_boundaries(400)
    test = values[validation_end:]
    previous = values[validation_end - 2 : -2]
    assert metrics["test"]["persistence"]["mae"] == pytest.approx(
        np.mean(np.abs(test - previous))
    )
    assert "persistence" in captured.out and "ETS" in captured.out

    code, captured = _run(["predict", "--model", str(output), *argv], capsys)
    assert code == 0, captured.err
    steps = [line for line in captured.out.splitlines() if line.strip().startswith("+")]
    assert len(steps) == 2
    # Without data flags, predict forecasts the series it was trained on.
    code, again = _run(["predict", "--model", str(output)], capsys)
    assert code == 0, again.err
    assert again.out == captured.out
    code, other = _run(["predict", "--model", str(output), "--dataset", "co2"], capsys)
    assert code == 1
    assert "--model was trained on csv=" in other.err
    assert len(other.err.strip().splitlines()) == 1
