"""`payrisk evaluate-policy`: off-policy estimates of the learned and logged dunning policies on a
real reminder history (no simulator), with the risk models' time split.

The channel-effect models are fitted on the decisions before the holdout cut-off; the learned
policy they define is evaluated on the later decisions with IPS and doubly-robust estimators
(payrisk.policy.offpolicy). The risk scorer is not refitted here: without default probabilities
the learned policy never chooses the agency in this evaluation (its rule needs them), which the
report says.
"""

from __future__ import annotations

from pathlib import Path

from payrisk.core import progress
from payrisk.core.storage import write_json
from payrisk.data.loading import read_tables, to_dataset
from payrisk.data.receivables import as_timestamp, default_as_of
from payrisk.data.validation import validate_tables
from payrisk.models.effects import fit_effect_models
from payrisk.models.training import InsufficientHistoryError, split_windows
from payrisk.policy.offpolicy import evaluate_learned_policy, render_evaluation
from pipelines.catalog import Catalog
from pipelines.training import effect_split


def evaluate_policy(
    catalog: Catalog,
    data_dir: str | Path,
    as_of: str | None = None,
    report_json: str | Path | None = None,
    draws: int = 200,
) -> dict:
    with progress.steps("evaluate-policy", 3) as stage:
        with stage("read and validate the data, build the decisions"):
            tables = read_tables(data_dir)
            validate_tables(tables).raise_for_failures()
            dataset = to_dataset(tables)
            when = as_timestamp(as_of) if as_of else default_as_of(dataset)
            config, dunning = catalog.train_config, catalog.dunning_config
            _, train, holdout = effect_split(dataset, when, config)
            train_window, holdout_window = split_windows(when, config)
        if len(train) == 0 or len(holdout) == 0:
            raise InsufficientHistoryError(
                f"no decisions to learn from or to evaluate on before {when.date()} "
                "(shorten evaluation.holdout_days / label_maturity_days or add history)"
            )
        with stage(f"fit the channel effects on {len(train):,} decisions"):
            try:
                effects = fit_effect_models(
                    train.features, train.units, train.outcomes, config.effects, config.seed
                )
            except ValueError as error:
                raise InsufficientHistoryError(str(error)) from None
        with stage(f"evaluate on {len(holdout):,} decisions ({draws} bootstrap draws)"):
            report = evaluate_learned_policy(
                effects.for_days(dunning.policy.response_days),
                holdout,
                dataset.reminders,
                None,
                dunning,
                config.effects,
                config.seed,
                draws,
            )
    report["windows"] = {
        "learned_from_decisions_before": train_window.end.date().isoformat(),
        "evaluated_on": [
            holdout_window.start.date().isoformat(),
            holdout_window.end.date().isoformat(),
        ],
    }
    report["as_of"] = when.date().isoformat()
    report["note"] = (
        "The agency is never chosen here: its rule needs the risk model's default probability."
    )
    if report_json:
        write_json(report_json, report)
    return report


def render(report: dict) -> str:
    return (
        f"Learned from decisions before {report['windows']['learned_from_decisions_before']}, "
        f"evaluated on {report['windows']['evaluated_on'][0]} .. "
        f"{report['windows']['evaluated_on'][1]} ({report['response_days']}-day window).\n"
        + render_evaluation(report)
        + f"\n{report['note']}"
    )
