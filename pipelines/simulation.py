"""`payrisk simulate`: generate a world, train payrisk on its history as a data scientist would,
then play the following period once per policy and compare them.

Steps: a world of `customers` over `years` and `period_days` more of invoices; the logged (random)
policy played up to the history's end; the scorer and the channel-effect models trained on that
history (the same fitting code as `payrisk train`, on every snapshot, without the registry); each
policy played over the period from that same past with common random numbers; the report
(JSON, markdown table) and an MLflow run with the table and plots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd

from payrisk.core import progress
from payrisk.core.config import TrainConfig
from payrisk.core.storage import write_json
from payrisk.data.generator import DEFAULT_END_DATE, World, generate_world
from payrisk.data.loading import Dataset
from payrisk.features.history import History
from payrisk.models.effects import EffectModels, effect_examples, fit_effect_models
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.models.training import Examples, Window, fit_scorer, window_examples
from payrisk.policy.config import DunningConfig
from payrisk.scaleout.dask import snapshot_features
from payrisk.simulation.compare import compare_policies
from payrisk.simulation.metrics import METRICS, gap_closed, markdown_table
from payrisk.simulation.policies import POLICIES
from pipelines import tracking
from pipelines.catalog import Catalog


@dataclass(frozen=True)
class Trained:
    scorer: PaymentRiskScorer
    effects: EffectModels | None


def train_on_history(dataset: Dataset, as_of: pd.Timestamp, config: TrainConfig) -> Trained:
    """The scorer and the effect models fitted on every snapshot and decision of the history."""
    queries, features = snapshot_features(dataset, as_of, config, None)
    everything = Examples(queries, features, pd.DataFrame(index=queries.index))
    full = window_examples(everything, dataset.invoices, Window(None, as_of, as_of), config)
    scorer = fit_scorer(full, config, {"as_of": as_of.date().isoformat()})
    effects = None
    if config.effects.enabled:
        history: History = scorer.build_history(dataset, as_of)
        examples = effect_examples(
            dataset.invoices, dataset.reminders, history, as_of, as_of, config.effects
        )
        effects = fit_effect_models(
            examples.features, examples.units, examples.outcomes, config.effects, config.seed
        )
    return Trained(scorer, effects)


def simulate_world(
    world: World,
    config: TrainConfig,
    dunning: DunningConfig,
    follow_up_days: int,
    policies: tuple[str, ...] = POLICIES,
    promises: bool = True,
) -> dict:
    """Train on the world's history, play every policy over its period (calls bringing
    promises there, with `promises`); the report."""
    timings = {}
    with progress.steps("simulate", 3) as stage:
        started = time.perf_counter()
        with stage("play the logged history"):
            past = world.play_logged(world.end_day)
            dataset = world.dataset(past, world.end_day)
        as_of = pd.Timestamp(np.datetime64(world.end_day + 1, "D"))
        timings["generate_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        with stage("train on the history"):
            trained = train_on_history(dataset, as_of, config)
        timings["train_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        with stage(f"play {len(policies)} policies"):
            results, _ = compare_policies(
                world, past, trained.scorer, trained.effects, dunning, follow_up_days, policies,
                promises=promises,
            )  # fmt: skip
        timings["play_seconds"] = round(time.perf_counter() - started, 1)
    return {
        "policies": results,
        "learned_gap_closed": gap_closed(results),
        "history": {
            "as_of": as_of.date().isoformat(),
            "invoices": len(dataset.invoices),
            "reminders": len(dataset.reminders),
        },
        "period": {
            "invoices": int((world.invoices.issue_day > world.end_day).sum()),
            "days": world.last_issue_day - world.end_day,
            "follow_up_days": follow_up_days,
            "promises": promises,
        },
        "effects": None if trained.effects is None else trained.effects.summary(),
        "timings": timings,
    }


def simulate(
    catalog: Catalog,
    customers: int,
    years: float,
    seed: int,
    period_days: int = 182,
    follow_up_days: int = 150,
    report_json: str | Path | None = None,
    track: bool = True,
    promises: bool = True,
) -> dict:
    """`payrisk simulate`: the report (also written to `report_json`, and to MLflow)."""
    with progress.step("generate the world"):
        world = generate_world(customers, years, seed, DEFAULT_END_DATE, future_days=period_days)
    report = simulate_world(
        world, catalog.train_config, catalog.dunning_config, follow_up_days, promises=promises
    )
    report["world"] = {"customers": customers, "years": years, "seed": seed}
    if track:
        log_simulation(catalog, report)
    if report_json:
        write_json(report_json, report)
    return report


def log_simulation(catalog: Catalog, report: dict) -> None:
    """One MLflow run: parameters, every policy's figures as metrics, the table and a plot."""
    experiment_id = tracking.setup(catalog.tracking_uri, catalog.train_config.registry.experiment)
    world = report["world"]
    name = f"simulate-{world['customers']}-seed{world['seed']}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=name):
        mlflow.set_tag("kind", "simulation")
        mlflow.log_params({**world, **report["period"]})
        mlflow.set_tags(tracking.code_version())
        for name, values in report["policies"].items():
            mlflow.log_metrics({f"{name}_{metric}": values[metric] for metric in METRICS})
        if report["learned_gap_closed"] is not None:
            mlflow.log_metric("learned_gap_closed", report["learned_gap_closed"])
        mlflow.log_text(markdown_table(report["policies"]), "simulation/policies.md")
        mlflow.log_dict(report, "simulation/report.json")
        figure = comparison_figure(report["policies"])
        mlflow.log_figure(figure, "simulation/policies.png")
        plt.close(figure)


def comparison_figure(policies: dict[str, dict[str, float]]):
    """Days late (amount-weighted) against contact cost, one bar pair per policy."""
    names = list(policies)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(names, [policies[n]["amount_weighted_days_late"] for n in names], color="#4a6fa5")
    left.set_title("Amount-weighted days late")
    right.bar(names, [policies[n]["contact_cost"] for n in names], color="#c0504d")
    right.set_title("Contact cost")
    figure.tight_layout()
    return figure


def render(report: dict) -> str:
    lines = [markdown_table(report["policies"])]
    closed = report.get("learned_gap_closed")
    if closed is not None:
        lines.append(
            f"\nlearned closes {closed:.0%} of the random-to-oracle gap in amount-weighted "
            "days late."
        )
    return "\n".join(lines)
