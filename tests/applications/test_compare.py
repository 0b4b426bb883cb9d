"""The optimizer race: its pure parts on hand-made numbers, a tiny run, bad flags."""

import json
import math
import statistics
import subprocess
import sys

import keras
import numpy as np
import pytest

from applications.common.optimizers import OPTIMIZERS
from applications.compare import encoder, report
from applications.compare.__main__ import main
from applications.compare.budget import Budget, Target, first_reaching
from tests.optimizers.rprop_reference import NumpyRprop

# --- the encoder's success criterion -------------------------------------------


def test_encoder_is_solved_when_every_output_is_strictly_within_the_tolerance():
    targets = np.eye(10, dtype=np.float32)
    # Every output 0.375 away from its target (exact in binary).
    close = np.where(targets == 1, 0.625, 0.375).astype(np.float32)
    assert bool(encoder.solved(close, targets))
    assert bool(encoder.solved(targets, targets))


@pytest.mark.parametrize("miss", [0.4, 0.5, 1.0])
def test_one_output_at_or_beyond_the_tolerance_is_not_solved(miss):
    targets = np.eye(10, dtype=np.float32)
    outputs = targets.copy()
    outputs[3, 7] = miss  # target 0: exactly `miss` away
    assert not bool(encoder.solved(outputs, targets))


def test_just_inside_the_tolerance_is_solved_on_either_side_of_the_target():
    targets = np.eye(10, dtype=np.float64)
    outputs = targets.copy()
    outputs[0, 0] = 1 - 0.399  # below a target of 1
    outputs[5, 2] = 0.399  # above a target of 0
    assert bool(encoder.solved(outputs, targets))
    outputs[5, 2] = 0.401
    assert not bool(encoder.solved(outputs, targets))


# --- epochs and seconds to a target ---------------------------------------------


def test_first_reaching_a_higher_is_better_target_counts_epochs_from_one():
    target = Target(0.95, True, "")
    curve = [0.5, 0.94, 0.95, 0.97, 0.93]
    assert first_reaching(curve, [1.0, 2.5, 3.25, 4.0, 5.0], target) == (3, 3.25)


def test_first_reaching_a_lower_is_better_target():
    target = Target(12.5, False, "")
    curve = [30.0, 12.6, 11.0, 12.0]
    assert first_reaching(curve, [0.5, 1.0, 1.5, 2.0], target) == (3, 1.5)
    assert first_reaching([13.0, 12.5], [1.0, 2.0], target) == (2, 2.0)


def test_a_curve_that_never_reaches_the_target_gives_none():
    target = Target(0.95, True, "")
    assert first_reaching([0.1, math.nan, 0.9], [1.0, 2.0, 3.0], target) is None
    assert first_reaching([], [], target) is None


def test_curve_and_seconds_must_be_as_long():
    with pytest.raises(ValueError, match="as long"):
        first_reaching([0.1, 0.2], [1.0], Target(0.5, True, ""))


def test_budget_stops_fit_once_its_seconds_are_spent():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), np.float32)
    budget = Budget(1e-9)
    history = model.fit(x, x[:, :1], epochs=50, callbacks=[budget], verbose=0)
    assert len(history.history["loss"]) == len(budget.elapsed) == 1
    assert budget.elapsed[0] > 0


# --- summaries -----------------------------------------------------------------


def _run(test, reached, epochs=10, diverged=False):
    return {
        "test": test,
        "reached": reached,
        "epochs": epochs,
        "batch_size": 32,
        "diverged": diverged,
        "curve": [0.0] * epochs,
        "seconds": [0.0] * epochs,
    }


def test_task_summary_takes_medians_over_the_seeds_that_reached_the_target():
    runs = [_run(0.9, [4, 2.0]), _run(0.8, None, 20), _run(0.7, [10, 6.0], 30)]
    row = report.summarize_task(runs)
    assert row["test_mean"] == pytest.approx(0.8)
    assert row["test_std"] == pytest.approx(np.std([0.9, 0.8, 0.7], ddof=1))
    assert row["reached"] == 2 and row["seeds"] == 3
    assert row["median_epochs_to_target"] == 7
    assert row["median_seconds_to_target"] == 4.0
    assert row["mean_epochs_run"] == 20


@pytest.mark.parametrize("diverged_test", [math.nan, 3e20])
def test_task_summary_leaves_diverged_runs_out_of_the_mean(diverged_test):
    runs = [_run(diverged_test, None, diverged=True), _run(0.5, None)]
    row = report.summarize_task(runs)
    assert row["test_mean"] == 0.5 and row["test_std"] == 0.0
    assert row["diverged"] == 1 and row["median_epochs_to_target"] is None


def test_encoder_summary():
    row = encoder.summary([30, None, 40, 35, None])
    assert row["fraction_solved"] == 0.6 and row["solved"] == 3
    assert row["mean_epochs"] == 35 and row["median_epochs"] == 35
    assert (row["min_epochs"], row["max_epochs"]) == (30, 40)
    assert encoder.summary([None])["median_epochs"] is None


def test_json_ready_replaces_non_finite_numbers():
    cleaned = report.json_ready({"a": [1.0, math.nan], "b": (np.float32(math.inf),)})
    assert cleaned == {"a": [1.0, None], "b": [None]}


# --- the encoder's training loop -------------------------------------------------


def _numpy_encoder_epochs(start, max_epochs):
    """Epochs iRprop- needs from `start`, by hand-written backprop in NumPy."""
    shapes = [w.shape for w in start]
    sizes = [w.size for w in start]
    rprop = NumpyRprop(
        np.concatenate([w.ravel() for w in start]),
        0.01,
        (0.5, 1.2),
        (1e-6, 50.0),
        "irprop-",
    )
    patterns = np.eye(10)

    def unpack(flat):
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        return [p.reshape(s) for p, s in zip(parts, shapes)]

    def forward(w1, b1, w2, b2):
        hidden = 1 / (1 + np.exp(-(patterns @ w1 + b1)))
        return hidden, 1 / (1 + np.exp(-(hidden @ w2 + b2)))

    weights = rprop.w
    for epoch in range(max_epochs + 1):
        w1, b1, w2, b2 = unpack(weights)
        hidden, outputs = forward(w1, b1, w2, b2)
        if np.all(np.abs(outputs - patterns) < encoder.TOLERANCE):
            return epoch
        if epoch == max_epochs:
            return None
        d_out = (outputs - patterns) * outputs * (1 - outputs)
        d_hidden = d_out @ w2.T * hidden * (1 - hidden)
        grads = [patterns.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_out, d_out.sum(0)]
        weights = rprop.step(np.concatenate([g.ravel() for g in grads]))


def test_encoder_epochs_match_a_numpy_backprop_with_reference_irprop():
    starts = encoder.starts(3, seed=1)
    raced = encoder.race("irprop-", starts, max_epochs=200)
    assert raced["epochs"] == [_numpy_encoder_epochs(s, 200) for s in starts]
    assert all(e is not None for e in raced["epochs"])


def test_encoder_starts_are_independent_of_the_ones_before():
    starts = encoder.starts(3, seed=2)
    together = encoder.race("irprop+", starts, max_epochs=100)["epochs"]
    alone = encoder.race("irprop+", starts[2:], max_epochs=100)["epochs"]
    assert together[2] == alone[0]


# --- the command -----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("compare")
    argv = [
        "--tasks", "encoder,digits,timeseries",
        "--optimizers", "irprop-,sgd",
        "--seeds", "2",
        "--epochs", "2",
        "--encoder-starts", "3",
        "--encoder-epochs", "60",
        "--output", str(output),
    ]  # fmt: skip
    assert main(argv) == 0
    return output


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def test_tiny_run_writes_well_formed_json(tiny_run):
    results = json.loads((tiny_run / "comparison.json").read_text())
    assert {"command", "machine", "settings", "tasks", "encoder"} <= set(results)
    assert len(results["machine"]["load_average_start"]) == 3
    assert len(results["machine"]["load_average_end"]) == 3
    digits = results["tasks"]["digits"]
    assert list(digits["rows"]) == ["irprop-", "sgd"]
    for name, runs in digits["runs"].items():
        assert [r["seed"] for r in runs] == [0, 1]
        for run in runs:
            assert run["epochs"] == len(run["curve"]) == len(run["seconds"]) == 2
            assert 0 <= run["test"] <= 1
        assert digits["rows"][name]["test_mean"] == pytest.approx(
            statistics.fmean(r["test"] for r in runs)
        )
    assert digits["rows"]["irprop-"]["batch_size"] == 1258
    assert digits["rows"]["sgd"]["batch_size"] == 32
    rows = results["encoder"]["rows"]
    assert list(rows) == ["irprop-", "sgd"]
    assert all(len(row["epochs"]) == 3 for row in rows.values())
    assert results["tasks"]["timeseries"]["rows"]["sgd"]["test_mean"] > 0
    assert all(math.isfinite(x) for x in _numbers(results))


def test_tiny_run_writes_a_markdown_table_a_task_and_the_pngs(tiny_run):
    text = (tiny_run / "comparison.md").read_text()
    for heading in ("## digits:", "## timeseries:", "## encoder:"):
        assert heading in text
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(table_rows) == 6  # two optimizers, three tables
    assert all(line.count("|") == 8 for line in table_rows[:4])
    assert all(line.count("|") == 6 for line in table_rows[4:])
    headers = [line for line in text.splitlines() if line.startswith("| optimizer")]
    assert "seconds to target (wall-clock, load " in headers[0]
    for task in ("digits", "timeseries"):
        assert (tiny_run / f"{task}.png").stat().st_size > 0
    assert not (tiny_run / "encoder.png").exists()


def test_encoder_only_run_reports_no_pipeline_settings_and_drops_stale_pngs(tmp_path):
    (tmp_path / "digits.png").write_bytes(b"an earlier race")
    argv = ["--tasks", "encoder", "--optimizers", "irprop-", "--encoder-starts", "2"]
    assert main([*argv, "--encoder-epochs", "60", "--output", str(tmp_path)]) == 0
    text = (tmp_path / "comparison.md").read_text()
    assert "Pipeline tasks:" not in text and "2 random starts" in text
    assert not (tmp_path / "digits.png").exists()
    results = json.loads((tmp_path / "comparison.json").read_text())
    row = results["encoder"]["rows"]["irprop-"]
    # A median of two starts may fall between two epochs; the table keeps it.
    median = statistics.median(row["epochs"])
    assert row["median_epochs"] == median
    assert f"| {median:g} |" in text


# --- bad flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tasks", "digits,vision"], "unknown task 'vision'; valid: encoder"),
        (["--tasks", ""], "expected comma-separated task names"),
        (["--tasks", "digits,"], "expected comma-separated task names"),
        (["--tasks", "digits,digits"], "task 'digits' given more than once"),
        (["--optimizers", "irprop-,lbfgs"], "unknown optimizer 'lbfgs'; valid: "),
        (["--optimizers", "adam,adam"], "optimizer 'adam' given more than once"),
        (["--budget-seconds", "0"], "expected a positive number, got 0"),
        (["--budget-seconds", "-3"], "expected a positive number"),
        (["--budget-seconds", "inf"], "expected a positive number"),
        (["--epochs", "0"], "expected a positive integer, got 0"),
        (["--seeds", "-1"], "expected a positive integer"),
        (["--seeds", "two"], "expected a positive integer"),
        (["--encoder-starts", "0"], "expected a positive integer"),
        (["--encoder-epochs", "1.5"], "expected a positive integer"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--output", str(tmp_path)])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert lines[0].startswith("python -m applications.compare: error: argument")


def test_flags_are_not_abbreviated(capsys, tmp_path):
    # `--seed 3` (a pipeline's seed) must not pass for `--seeds 3`.
    with pytest.raises(SystemExit) as exit_:
        main(["--seed", "3", "--output", str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --seed 3")


def test_unknown_optimizer_error_lists_every_valid_name(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["--optimizers", "nope", "--output", str(tmp_path)])
    line = capsys.readouterr().err.strip()
    assert all(name in line for name in OPTIMIZERS)


def test_unwritable_output_exits_2_without_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "applications.compare", "--output", str(blocker / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "error: argument --output: cannot write" in lines[0]
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_curves_plot_leaves_out_an_optimizer_whose_runs_all_diverged(tmp_path):
    runs = {
        "steady": [_run(0.5, None), _run(0.6, None, epochs=12)],
        "diverged": [_run(math.nan, None, diverged=True)],
    }
    path = tmp_path / "curves.png"
    report.plot_curves(runs, path, title="t", metric_label="m", target=0.5)
    assert path.stat().st_size > 0
    epochs, seconds, curve = report.mean_curve(runs["steady"])
    assert len(epochs) == len(seconds) == len(curve) == 10  # the shorter run
