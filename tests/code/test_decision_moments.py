"""One setting in one place: the policy decides at the moments its effect models were trained at."""

from __future__ import annotations

import pytest
import yaml

from payrisk.core.config import ConfigError, default_config
from payrisk.core.settings import load_settings
from pipelines.catalog import Catalog


def _dunning_file(tmp_path, offsets, mode="learned"):
    content = yaml.safe_load(default_config("dunning.yaml").read_text(encoding="utf-8"))
    content["policy"].update(decision_offsets=offsets, mode=mode)
    path = tmp_path / "my-dunning.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def _catalog(dunning_file):
    return Catalog(load_settings({}), dunning_config_path=dunning_file)


def test_the_shipped_configs_decide_at_the_trained_moments():
    catalog = Catalog(load_settings({}))
    offsets = catalog.train_config.effects.decision_offsets
    assert catalog.dunning_config.policy.decision_offsets == offsets


def test_a_dunning_config_deciding_at_other_moments_is_refused_naming_both_files(tmp_path):
    catalog = _catalog(_dunning_file(tmp_path, [-4, 5, 20]))
    with pytest.raises(ConfigError) as error:
        _ = catalog.dunning_config
    message = str(error.value)
    assert "my-dunning.yaml policy.decision_offsets [-4, 5, 20]" in message
    assert "train.yaml effects.decision_offsets [-4, 5, 15, 30, 45, 75]" in message


def test_the_rules_policy_has_no_decision_moments_to_agree_on(tmp_path):
    catalog = _catalog(_dunning_file(tmp_path, [-4, 5, 20], mode="rules"))
    assert catalog.dunning_config.policy.decision_offsets == (-4, 5, 20)
