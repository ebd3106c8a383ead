"""How features become the float matrix LightGBM reads: column order and category codes.

One encoding for fitting, evaluation, batch scoring, the online service and the Dask fitter: the
categories seen in training are fixed by `CategoryEncoder`, and `MatrixLayout` turns feature
columns (arrays or a frame) into one float64 matrix, categories as codes (unknown -> NaN). Scoring
hands that matrix straight to the boosters, skipping LightGBM's per-call pandas conversion, which
dominates the cost of scoring a few invoices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from payrisk.features.definitions import CATEGORICAL_FEATURES
from payrisk.features.streams import SMALL_LOOKUP

Columns = Mapping[str, np.ndarray]  # feature name -> one value per invoice


def frame_columns(
    frame: pd.DataFrame, names: tuple[str, ...] | None = None
) -> dict[str, np.ndarray]:
    """Columns of a feature frame as arrays: text and categories as objects, the rest float64."""
    out = {}
    for name in frame.columns if names is None else names:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            column
        ):
            out[name] = column.to_numpy(dtype=object)
        else:
            out[name] = column.to_numpy(dtype="float64", na_value=np.nan)
    return out


@dataclass(frozen=True)
class MatrixLayout:
    """Column order and category codes of one encoder, built once per fitted model."""

    columns: tuple[str, ...]
    categories: dict[str, pd.Index]
    codes: dict[str, dict[str, float]]

    @classmethod
    def of(cls, columns: tuple[str, ...], categories: Mapping[str, list[str]]) -> MatrixLayout:
        indexes = {name: pd.Index(values) for name, values in categories.items()}
        codes = {name: {v: float(i) for i, v in enumerate(c)} for name, c in indexes.items()}
        return cls(tuple(columns), indexes, codes)

    @classmethod
    def of_encoded(cls, encoded: pd.DataFrame) -> MatrixLayout:
        """The layout of a frame `CategoryEncoder.transform` made (categories from its dtypes)."""
        categories = {
            name: list(column.cat.categories)
            for name, column in encoded.items()
            if isinstance(column.dtype, pd.CategoricalDtype)
        }
        return cls.of(tuple(encoded.columns), categories)

    def same_as(self, other: MatrixLayout) -> bool:
        return self.columns == other.columns and all(
            self.categories.keys() == other.categories.keys()
            and self.categories[k].equals(other.categories[k])
            for k in self.categories
        )

    def matrix(self, features: Columns | pd.DataFrame) -> np.ndarray:
        """One float64 matrix: numbers as they are, categories as codes (unknown -> NaN)."""
        if isinstance(features, pd.DataFrame):
            features = frame_columns(features, self.columns)
        n = len(features[self.columns[0]]) if self.columns else 0
        out = np.empty((n, len(self.columns)), dtype="float64")
        for j, name in enumerate(self.columns):
            if name not in self.categories:
                out[:, j] = features[name]
            elif n <= SMALL_LOOKUP:
                lookup = self.codes[name]
                out[:, j] = [lookup.get(str(v), np.nan) for v in features[name]]
            else:
                text = np.asarray(features[name], dtype=object).astype("str")
                codes = self.categories[name].get_indexer(text).astype("float64")
                codes[codes < 0] = np.nan
                out[:, j] = codes
        return out


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Fix the categories seen in training so that scoring encodes text the same way.

    `categorical` names the text features (default: the built-in ones; declared categorical
    features are added by the caller)."""

    def __init__(self, categorical: tuple[str, ...] = CATEGORICAL_FEATURES) -> None:
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> CategoryEncoder:
        self.categories_ = {
            name: sorted(pd.unique(X[name].astype("str")))
            for name in self.categorical
            if name in X.columns
        }
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.layout_ = MatrixLayout.of(tuple(self.feature_names_in_), self.categories_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Categories as pandas categoricals, for LightGBM's fit."""
        out = X.copy()
        for name, categories in self.categories_.items():
            out[name] = pd.Categorical(out[name].astype("str"), categories=categories)
        return out
