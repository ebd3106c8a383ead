"""Fixtures shared by the model tests."""

from __future__ import annotations

import mlflow
import pytest

from payrisk.models.scorer import PaymentRiskScorer


@pytest.fixture(scope="module")
def scorer(trained) -> PaymentRiskScorer:
    """The trained project's champion, loaded from the registry as the service loads it."""
    mlflow.set_tracking_uri(trained.env["MLFLOW_TRACKING_URI"])
    name = trained.report["registry"]["model_name"]
    return mlflow.pyfunc.load_model(f"models:/{name}@champion").unwrap_python_model().scorer
