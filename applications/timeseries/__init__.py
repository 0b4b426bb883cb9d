"""Forecasting a real series with backpropagation through time.

`python -m applications.timeseries` forecasts the weekly Mauna Loa CO2 series
(or `--dataset sunspots`, or `--csv`) with `keras_bp.BPTTModel`, and scores it
against persistence, seasonal naive and statsmodels' classical models on the
same rolling-origin test forecasts; see `--help`.
"""
