"""The forecasters a model must beat, all forecasting from a rolling origin.

Each forecaster maps `(values, origins, horizon)` to the forecasts of
`values[origins + horizon]` made with `values[: origins + 1]` only. The
classical models are fitted once, on the training part, and then run over
the whole series with their parameters fixed, so that each forecast uses the
data up to its origin and nothing after it, as the network does.

Fitting SARIMA with a 52-week season takes minutes; every fit is cached under
a key made of the model, the training values and the statsmodels version,
so a changed series or library never reuses a stale fit.
"""

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Forecaster = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def errors(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict:
    """MAE, RMSE and MASE (the MAE divided by `scale`) of `forecast`."""
    error = np.asarray(forecast, np.float64) - np.asarray(actual, np.float64)
    mae = float(np.mean(np.abs(error)))
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mase": mae / scale,
    }


def mase_scale(train: np.ndarray) -> float:
    """MASE's denominator: the training part's mean absolute one-step change.

    That is the in-sample MAE of persistence at one step (Hyndman & Koehler,
    2006), so a MASE below 1 beats it.
    """
    return float(np.mean(np.abs(np.diff(train))))


def persistence(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The last value seen: `values[origin]`."""
    del horizon
    return values[origins]


def seasonal_naive(season: int) -> Forecaster:
    """The value one season before the target (or whole seasons, if H > season)."""

    def forecast(values, origins, horizon):
        back = season * -(-horizon // season)
        return values[origins + horizon - back]

    return forecast


@dataclass(frozen=True)
class Classical:
    """A statsmodels model: fitted on the training part, then run with fixed
    parameters.

    Attributes:
        name: the name in the table.
        spec: what identifies the model in the cache key.
        fit: training values -> fitted parameters (JSON-able).
        forecast: `(values, parameters, origins, horizon)` -> forecasts.
    """

    name: str
    spec: Mapping
    fit: Callable[[np.ndarray], dict]
    forecast: Callable[[np.ndarray, dict, np.ndarray, int], np.ndarray]

    def forecaster(self, train: np.ndarray, cache_dir: Path | None) -> Forecaster:
        """Fit (or load the cached fit) on `train`; the rolling forecaster."""
        parameters = _cached(cache_dir, self, train)
        return lambda values, origins, horizon: self.forecast(
            values, parameters, origins, horizon
        )


def _cached(cache_dir: Path | None, model: Classical, train: np.ndarray) -> dict:
    import statsmodels

    if cache_dir is None:
        return model.fit(train)
    key = hashlib.sha256(
        json.dumps(
            [model.name, dict(model.spec), statsmodels.__version__], sort_keys=True
        ).encode()
        + np.ascontiguousarray(train, np.float64).tobytes()
    ).hexdigest()[:24]
    path = Path(cache_dir).expanduser() / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    parameters = model.fit(train)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: an interrupted run leaves no half file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(parameters))
    partial.replace(path)
    return parameters


# --- SARIMA -----------------------------------------------------------------


def sarima(order: tuple[int, int, int], seasonal: tuple[int, int, int, int]):
    """SARIMA`order``seasonal` by maximum likelihood (statsmodels' SARIMAX)."""

    def build(values):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        return SARIMAX(values, order=order, seasonal_order=seasonal)

    def fit(train):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = build(train).fit(disp=False)
        return {"params": result.params.tolist()}

    def forecast(values, parameters, origins, horizon):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = build(values).filter(np.asarray(parameters["params"]))
        design = _time_invariant(result.model["design"])
        transition = _time_invariant(result.model["transition"])
        # predicted_state[:, o + 1] is the state at o + 1 given the data up
        # to o; H - 1 more transitions carry it to o + H.
        ahead = design @ np.linalg.matrix_power(transition, horizon - 1)
        return (ahead @ result.predicted_state[:, origins + 1]).ravel()

    name = f"SARIMA{order}{seasonal}".replace(" ", "")
    return Classical(name, {"order": order, "seasonal_order": seasonal}, fit, forecast)


def _time_invariant(matrix):
    return matrix[..., 0] if matrix.ndim == 3 else matrix


# --- ETS (Holt-Winters) -----------------------------------------------------


def ets(season: int):
    """Exponential smoothing with an additive trend and (if `season > 1`)
    an additive season of `season` steps (statsmodels' Holt-Winters)."""
    seasonal = season > 1

    def fit(train):
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ExponentialSmoothing(
                train,
                trend="add",
                seasonal="add" if seasonal else None,
                seasonal_periods=season if seasonal else None,
                initialization_method="estimated",
            ).fit()
        p = result.params
        return {
            "alpha": float(p["smoothing_level"]),
            "beta": float(p["smoothing_trend"]),
            "gamma": float(p["smoothing_seasonal"]) if seasonal else 0.0,
            "level": float(p["initial_level"]),
            "trend": float(p["initial_trend"]),
            "seasons": (
                np.asarray(p["initial_seasons"]).tolist() if seasonal else [0.0]
            ),
        }

    def forecast(values, parameters, origins, horizon):
        level, trend, seasons = holt_winters_states(values, parameters)
        m = len(parameters["seasons"])
        # The newest seasonal term for the target's phase, as of the origin.
        phase = origins + horizon - m * -(-horizon // m)
        return level[origins] + horizon * trend[origins] + seasons[phase + m]

    return Classical("ETS", {"season": season}, fit, forecast)


def holt_winters_states(values: np.ndarray, parameters: Mapping) -> tuple:
    """Additive Holt-Winters states after each value, with fixed parameters.

    Returns `(level, trend, seasons)`: `level[t]`, `trend[t]` after seeing
    `values[t]`, and `seasons[t + m]` the seasonal term updated at `t` (its
    first `m` entries are the initial terms).
    """
    alpha, beta, gamma = (parameters[k] for k in ("alpha", "beta", "gamma"))
    initial = np.asarray(parameters["seasons"], np.float64)
    m = len(initial)
    n = len(values)
    level, trend = np.empty(n), np.empty(n)
    seasons = np.concatenate([initial, np.empty(n)])
    last_level, last_trend = parameters["level"], parameters["trend"]
    for t, value in enumerate(values):
        season = seasons[t]
        level[t] = alpha * (value - season) + (1 - alpha) * (last_level + last_trend)
        trend[t] = beta * (level[t] - last_level) + (1 - beta) * last_trend
        seasons[t + m] = (
            gamma * (value - last_level - last_trend) + (1 - gamma) * season
        )
        last_level, last_trend = level[t], trend[t]
    return level, trend, seasons


# --- AR -----------------------------------------------------------------------


def autoregression(lags: int):
    """AR(`lags`) with a constant, by least squares (statsmodels' AutoReg)."""

    def fit(train):
        from statsmodels.tsa.ar_model import AutoReg

        result = AutoReg(train, lags=lags, trend="c").fit()
        return {"params": np.asarray(result.params).tolist()}

    def forecast(values, parameters, origins, horizon):
        constant, *coefficients = parameters["params"]
        # Each row: the last `lags` values at its origin, newest last; the
        # forecasts are fed back in as the horizon is walked.
        history = values[origins[:, None] + np.arange(1 - lags, 1)]
        weights = np.asarray(coefficients)[::-1]
        for _ in range(horizon):
            step = constant + history[:, -lags:] @ weights
            history = np.column_stack([history, step])
        return history[:, -1]

    return Classical(f"AR({lags})", {"lags": lags}, fit, forecast)


def classical_for(dataset: str | None, season: int) -> list[Classical]:
    """The classical models a forecaster would reach for on `dataset`."""
    models = {
        "co2": [sarima((1, 1, 1), (0, 1, 1, season)), ets(season)],
        "sunspots": [autoregression(9), ets(season)],
    }
    return models.get(dataset, [ets(season)])
