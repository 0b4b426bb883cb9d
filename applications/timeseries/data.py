"""A real series, split in time, cut into locally normalised windows.

The series come as float64 NumPy arrays with their time stamps; the windows
as float32 arrays for Keras. Each window is expressed relative to its own
last value, and the targets are the changes from that value: the test part of
the Mauna Loa series (357-374 ppm) lies above every training value (313-355),
and a network fed absolute levels would have to extrapolate to inputs it
never saw; relative to the last value every part looks alike.

pandas and statsmodels are imported where they are used: the command line
imports this module to parse its flags, and `--help` or a bad flag should
answer at once.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from applications.common.cli import AppError
from applications.common.data import Splits

DATASETS = ("co2", "sunspots")
DEFAULT_DATASET = "co2"
# The split is part of the data set's definition: chronological, test last.
TRAIN_FRACTION = 0.70
VALIDATION_FRACTION = 0.15
# Beside a saved model: the window and scales that turn values into inputs.
FORECASTER_FILE = "forecaster.json"


@dataclass(frozen=True)
class Series:
    """One univariate series.

    Attributes:
        name: what it is, for reports and plots.
        values: float64 observations, oldest first, no NaN.
        time: the time stamp of each value (NumPy datetime64 or numbers).
        season: steps in one seasonal cycle (1: none).
        window: the default number of past steps a forecast sees.
        unit: the unit of the values, for reports and plots.
        filled: how many missing values were filled by interpolation.
    """

    name: str
    values: np.ndarray
    time: np.ndarray
    season: int
    window: int
    unit: str = ""
    filled: int = 0

    def __len__(self) -> int:
        return len(self.values)


# Facts about the shipped data sets: season, default window and unit.
_SPECS = {
    "co2": ("Mauna Loa CO2, weekly", 52, 104, "ppm"),
    "sunspots": ("yearly sunspot number", 11, 22, "sunspots"),
}


def load_co2() -> Series:
    """statsmodels' weekly Mauna Loa CO2 (1958-2001), gaps filled in time.

    59 of the 2,284 weeks are missing; each is interpolated linearly in time
    between its neighbours.
    """
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    column = frame["co2"]
    return _series("co2", column.interpolate(method="time"), column.isna().sum())


def load_sunspots() -> Series:
    """statsmodels' yearly sunspot numbers, 1700-2008 (309 values, none missing)."""
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    values = frame["SUNACTIVITY"].to_numpy(np.float64)
    name, season, window, unit = _SPECS["sunspots"]
    return Series(
        name, values, frame["YEAR"].to_numpy().astype(int), season, window, unit
    )


def _series(key: str, column, filled: int) -> Series:
    name, season, window, unit = _SPECS[key]
    return Series(
        name,
        column.to_numpy(np.float64),
        column.index.to_numpy(),
        season,
        window,
        unit,
        int(filled),
    )


def load_csv(
    path: Path, column: str, time_column: str | None = None, *, season: int = 1
) -> Series:
    """The `column` of the CSV file at `path`, in file order.

    Empty cells are filled by linear interpolation (in time when
    `time_column` is given, else by position); the default window is two
    seasons, or 24 steps without a season.

    Raises:
        AppError: when the file is missing or empty, a column is missing, or
            a cell holds something other than a number.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise AppError(f"--csv: no such file: {path}") from None
    except IsADirectoryError:
        raise AppError(f"--csv: {path} is a directory, expected a CSV file") from None
    except pd.errors.EmptyDataError:
        raise AppError(f"--csv: {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise AppError(f"--csv: cannot read {path} as CSV: {error}") from None
    for flag, name in (("--column", column), ("--time-column", time_column)):
        if name is not None and name not in frame.columns:
            raise AppError(
                f"{flag}: {path} has no column {name!r}; its columns are "
                f"{', '.join(map(repr, frame.columns))}"
            )
    if frame.empty:
        raise AppError(f"--csv: {path} has a header but no rows")
    raw = frame[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = (numbers.isna() & raw.notna()) | np.isinf(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AppError(
            f"--column {column!r}: row {row + 1} holds {str(raw.iloc[row])!r}, "
            "expected a finite number"
        )
    if time_column is None:
        time = np.arange(len(numbers))
        series = numbers.interpolate(method="linear", limit_direction="both")
    else:
        time = _time_stamps(frame[time_column], time_column)
        if pd.api.types.is_numeric_dtype(time):
            # Plain numbers (years, say) are times as they are, not dates.
            numbers.index = pd.Index(time)
            series = numbers.interpolate(method="index", limit_direction="both")
        else:
            numbers.index = pd.DatetimeIndex(time)
            series = numbers.interpolate(method="time", limit_direction="both")
    if series.isna().all():
        raise AppError(f"--column {column!r}: {path} holds no numbers in it")
    if series.nunique() == 1:
        raise AppError(
            f"--column {column!r}: every value is {float(series.iloc[0])}; a constant "
            "series has nothing to forecast"
        )
    return Series(
        f"{Path(path).name}: {column}",
        series.to_numpy(np.float64),
        time,
        season,
        2 * season if season > 1 else 24,
        filled=int(numbers.isna().sum()),
    )


def _time_stamps(raw, time_column: str) -> np.ndarray:
    """The `--time-column` as numbers or datetimes, checked to increase."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(raw):
        stamps = raw.astype(np.float64)
        bad = ~np.isfinite(stamps.to_numpy())
    else:
        stamps = pd.to_datetime(raw, errors="coerce")
        bad = stamps.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise AppError(
            f"--time-column {time_column!r}: row {row + 1} holds "
            f"{str(raw.iloc[row])!r}, expected a date, a time or a number"
        )
    times = stamps.to_numpy()
    steps = np.flatnonzero(times[1:] <= times[:-1])
    if len(steps):
        row = int(steps[0]) + 2
        raise AppError(
            f"--time-column {time_column!r}: row {row} ({str(raw.iloc[row - 1])!r})"
            f" does not come after row {row - 1} ({str(raw.iloc[row - 2])!r}); "
            "sort the file by time and remove repeated times"
        )
    return times


def data_source(args) -> dict:
    """The data flags of a run, so that `predict` can check it gets that series."""
    if args.csv is None:
        return {"dataset": args.dataset or DEFAULT_DATASET}
    return {
        "csv": str(Path(args.csv).expanduser().resolve()),
        "column": args.column,
        "time_column": args.time_column,
    }


def load(dataset: str) -> Series:
    """The shipped data set `dataset` (one of `DATASETS`)."""
    if dataset == "co2":
        return load_co2()
    if dataset == "sunspots":
        return load_sunspots()
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")


@dataclass(frozen=True)
class Windows:
    """Sliding windows over one series, each normalised by its last value.

    A window ending at origin `o` holds `(x[o - window + 1 : o + 1] - x[o]) /
    input_scale` and targets `(x[o + k] - x[o]) / target_scale[k - 1]` for
    `k = 1 .. horizon`. A part's windows are those whose last target
    (`o + horizon`) falls in the part; validation windows may look back into
    the training part, test windows into the validation part but never into
    the training part, so no training target is ever a test input.

    Attributes:
        window, horizon: steps seen and steps forecast.
        boundaries: `(train_end, validation_end)`: the parts are
            `[0, train_end)`, `[train_end, validation_end)`, `[validation_end, n)`.
        origins: the origins of each part's windows, by part name.
        input_scale: the spread of training inputs around their last value.
        target_scale: the spread of the training changes, one per step ahead.
    """

    window: int
    horizon: int
    boundaries: tuple[int, int]
    origins: dict[str, np.ndarray] = field(repr=False)
    input_scale: float
    target_scale: np.ndarray

    def inputs(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The `(len(origins), window, 1)` float32 inputs ending at `origins`."""
        levels = _levels(values, origins, self.window) / self.input_scale
        return levels[..., None].astype(np.float32)

    def targets(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The `(len(origins), horizon)` float32 scaled changes after `origins`."""
        changes = _changes(values, origins, self.horizon)
        return (changes / self.target_scale).astype(np.float32)

    def forecast(self, values: np.ndarray, origins: np.ndarray, scaled) -> np.ndarray:
        """Model outputs `(len(origins), horizon)` back in the series' units."""
        return values[origins, None] + np.asarray(scaled) * self.target_scale

    def splits(self, values: np.ndarray) -> Splits:
        """The train, validation and test `(inputs, targets)` of `values`."""
        return Splits(
            **{
                part: (self.inputs(values, o), self.targets(values, o))
                for part, o in self.origins.items()
            }
        )

    def scaling(self) -> dict:
        """What turns values into inputs and outputs into forecasts (JSON-able)."""
        return {
            "window": self.window,
            "horizon": self.horizon,
            "input_scale": self.input_scale,
            "target_scale": self.target_scale.tolist(),
        }

    @classmethod
    def from_scaling(cls, scaling: dict) -> "Windows":
        """Windows with the saved `scaling` and no parts, to forecast with."""
        return cls(
            scaling["window"],
            scaling["horizon"],
            (0, 0),
            {},
            scaling["input_scale"],
            np.asarray(scaling["target_scale"]),
        )

    def test_targets(self) -> np.ndarray:
        """Indices of the values scored on the test part (H steps after origin)."""
        return self.origins["test"] + self.horizon


def split_boundaries(
    length: int,
    train_fraction: float = TRAIN_FRACTION,
    validation_fraction: float = VALIDATION_FRACTION,
) -> tuple[int, int]:
    """`(train_end, validation_end)` of a chronological split of `length` values."""
    train_end = round(train_fraction * length)
    return train_end, train_end + round(validation_fraction * length)


def make_windows(values: np.ndarray, window: int, horizon: int) -> Windows:
    """Windows over `values` split 70/15/15 in time, scales fitted on training.

    Raises:
        AppError: when a part is too short to hold one window.
    """
    if window < 1 or horizon < 1:
        raise ValueError(
            f"window and horizon must be positive, got {window} and {horizon}"
        )
    length = len(values)
    train_end, validation_end = split_boundaries(length)
    # A part's windows end (last target) inside it; their inputs may start
    # at `earliest`: never in the training part for the test windows.
    parts = {
        "train": (0, train_end, 0),
        "validation": (train_end, validation_end, 0),
        "test": (validation_end, length, train_end),
    }
    origins = {}
    for part, (start, end, earliest) in parts.items():
        origins[part] = np.arange(
            max(start - horizon, earliest + window - 1), end - horizon
        )
        if not len(origins[part]):
            raise AppError(
                f"the series has {length} values, too few for --window {window} "
                f"and --horizon {horizon}: the {part} part (of a "
                f"{TRAIN_FRACTION:.0%}/{VALIDATION_FRACTION:.0%}/rest split in "
                "time) holds no whole window; use a shorter --window or a "
                "longer series"
            )
    input_scale = float(np.std(_levels(values, origins["train"], window)))
    target_scale = np.std(_changes(values, origins["train"], horizon), axis=0)
    # A constant stretch has no spread; 1 leaves its (zero) changes as they are.
    target_scale = np.where(target_scale > 0, target_scale, 1.0)
    return Windows(
        window,
        horizon,
        (train_end, validation_end),
        origins,
        input_scale if input_scale > 0 else 1.0,
        target_scale,
    )


def _levels(values, origins, window):
    """The `window` values up to each origin, minus the origin's value."""
    steps = origins[:, None] + np.arange(1 - window, 1)
    return values[steps] - values[origins, None]


def _changes(values, origins, horizon):
    """The changes from each origin's value over the next `horizon` steps."""
    steps = origins[:, None] + np.arange(1, horizon + 1)
    return values[steps] - values[origins, None]
