"""The model page's challenger table compares like with like: the per-age headline the gate
judges where the champion's card and the challenger's run both have it, else both pooled."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from payrisk.core.settings import load_settings
from pipelines.catalog import Catalog


class _Registry:
    """A registry holding one challenger whose run logged `metrics`."""

    def __init__(self, metrics: dict[str, float]) -> None:
        self.metrics = metrics

    def get_model_version_by_alias(self, name: str, alias: str):
        assert alias == "challenger"
        return SimpleNamespace(version="7", run_id="r1", creation_timestamp=1_764_547_200_000)

    def get_run(self, run_id: str):
        return SimpleNamespace(data=SimpleNamespace(metrics=self.metrics))


def _summary(tmp_path, monkeypatch, card: dict, metrics: dict[str, float]) -> dict:
    catalog = Catalog(load_settings({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}))
    monkeypatch.setattr(Catalog, "client", lambda self: _Registry(metrics))
    summary = catalog.challenger_summary(card)
    assert summary is not None and summary["version"] == "7"
    return {label: (mine, theirs) for label, mine, theirs in summary["metrics"]}


POOLED = {"holdout_late_model_roc_auc": 0.931, "holdout_default_model_roc_auc": 0.861}
PER_AGE = {"headline_late_model_roc_auc": 0.902, "headline_default_model_roc_auc": 0.741}
CARD_POOLED = {
    "holdout_metrics": {
        "late": {"model": {"roc_auc": 0.929}},
        "default": {"model": {"roc_auc": 0.859}},
    }
}
CARD = {
    **CARD_POOLED,
    "headline": {
        "late": {"model": {"roc_auc": 0.900}},
        "default": {"model": {"roc_auc": 0.737}},
    },
}


def test_the_challenger_and_the_champion_are_compared_on_the_gates_per_age_figures(
    tmp_path, monkeypatch
):
    rows = _summary(tmp_path, monkeypatch, CARD, {**POOLED, **PER_AGE})
    assert rows == {
        "late roc auc (per age)": ("0.902", "0.900"),
        "default roc auc (per age)": ("0.741", "0.737"),
    }


@pytest.mark.parametrize("card, metrics", [(CARD_POOLED, {**POOLED, **PER_AGE}), (CARD, POOLED)])
def test_without_the_headline_on_either_side_both_are_pooled(tmp_path, monkeypatch, card, metrics):
    rows = _summary(tmp_path, monkeypatch, card, metrics)
    assert rows == {
        "late roc auc (pooled)": ("0.931", "0.929"),
        "default roc auc (pooled)": ("0.861", "0.859"),
    }
