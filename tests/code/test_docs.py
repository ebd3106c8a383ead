"""The documentation site's pages: every README section on a page, the reference complete.

`make docs` builds the site strictly (`make test` runs it too); these check what it is built
from.
"""

from __future__ import annotations

import typing
from pathlib import Path

import click
import pytest
import typer
from pydantic import BaseModel

from docs.hooks.reference import (
    CONFIG_FILES,
    README_MARKER,
    api_page,
    cli_page,
    config_page,
    contract_page,
    features_page,
    include_readme,
    included_titles,
    readme_sections,
    readme_top_sections,
    settings_page,
)
from payrisk.cli import app
from payrisk.core.config import TrainConfig
from payrisk.core.settings import Settings
from payrisk.data.contract import TABLES
from payrisk.features.definitions import FEATURES, RESPONSE_FEATURES
from payrisk.policy.config import DunningConfig

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {
    path.relative_to(ROOT / "docs").as_posix(): path.read_text(encoding="utf-8")
    for path in (ROOT / "docs").rglob("*.md")
}

TEXT = """# tool

Intro.

## Install

Run:

```bash
# a comment, not a title
make
```

### Options

Some.

## Use

Call it.
"""


def test_every_readme_section_is_on_a_page_of_the_site():
    missing = set(readme_top_sections(README)) - included_titles(PAGES.values())
    assert not missing, f"README sections on no docs/ page: {sorted(missing)}"


def test_no_readme_sentence_is_on_two_pages():
    markers = [m.group(2) for page in PAGES.values() for m in README_MARKER.finditer(page)]
    assert len(markers) == len(set(markers))
    sections = readme_sections(README)
    for outer in markers:
        for inner in markers:
            heading = sections[inner][1].splitlines()[0]
            assert inner == outer or heading not in sections[outer][1].splitlines(), (outer, inner)


def test_every_page_marker_names_a_readme_section():
    sections = readme_sections(README)
    for name, page in PAGES.items():
        assert "<!-- readme:" not in include_readme(page, sections), name


def test_a_section_runs_to_the_next_title_of_its_level_and_skips_code_comments():
    sections = readme_sections(TEXT)
    assert set(sections) == {"tool", "Install", "Options", "Use"}
    assert sections["tool"][1] == "# tool\n\nIntro.\n"
    install = sections["Install"][1]
    assert "### Options" in install and "Call it." not in install


def test_an_included_section_takes_the_level_of_its_marker_and_code_stays_as_it_is():
    page = include_readme("<!-- readme: # Install -->\n", readme_sections(TEXT))
    assert page.startswith("# Install\n")
    assert "\n## Options\n" in page
    assert "# a comment, not a title" in page


def test_a_marker_naming_no_readme_section_fails_the_build():
    with pytest.raises(KeyError, match="Renamed"):
        include_readme("<!-- readme: ## Renamed -->\n", readme_sections(TEXT))


def _section(page: str, title: str) -> str:
    return page.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_contract_page_lists_every_column_of_every_table_under_its_table():
    page = contract_page()
    for table in TABLES.values():
        section = _section(page, f"`{table.name}`")
        for column in table.columns:
            required = "yes" if column.required else "no"
            assert f"| `{column.name}` | {column.kind.value} | {required} |" in section


def test_the_settings_page_lists_every_variable_with_its_default_and_bounds():
    page = settings_page()
    for name in Settings.model_fields:
        assert f"| `{Settings.variable(name)}` |" in page
    assert "| `PAYRISK_MAX_BATCH` | int (≥ 1, ≤ 100000) | `1000` |" in page
    assert "| `PAYRISK_AUTH` | `enabled` or `disabled` | `enabled` |" in page
    assert "| `PAYRISK_MODELS_DIR` | Path | `./models` |" in page


def test_the_features_page_lists_every_feature_in_the_models_column_order():
    page = features_page()
    positions = [page.index(f"| `{feature.name}` |") for feature in FEATURES]
    families = [feature.family for feature in FEATURES]
    # Within a family the order is the declaration order (families group the table).
    for family in set(families):
        mine = [p for p, f in zip(positions, families, strict=True) if f is family]
        assert mine == sorted(mine)
    for feature in RESPONSE_FEATURES:
        assert f"| `{feature.name}` |" in _section(page, "Channel-effect inputs")


SPEC = {
    "openapi": "3.0.2",
    "info": {"title": "payrisk", "version": "1.2.3", "description": "What it does."},
    "paths": {
        "/v1/score": {
            "post": {
                "description": "Score invoices.",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "title": "ScoreRequest",
                                "required": ["invoices"],
                                "properties": {
                                    "invoices": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/InvoiceIn"},
                                        "description": "Open invoices.",
                                    }
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": {"description": "Scores"},
                    "400": {
                        "description": "Malformed",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                },
            }
        },
        "/livez": {"get": {"description": "Alive.", "security": [], "responses": {}}},
    },
    "components": {
        "schemas": {
            "InvoiceIn": {
                "properties": {
                    "amount": {"type": "number", "description": "Total."},
                    "due_date": {"type": "string", "format": "date"},
                    "channel": {"anyOf": [{"enum": ["email", "sms"]}, {"type": "null"}]},
                },
                "required": ["amount"],
            },
            "Error": {"properties": {"error": {"type": "string"}}},
        }
    },
}


def test_the_api_page_shows_every_operation_field_and_answer_with_links_to_schemas():
    page = api_page(SPEC)
    assert "### `POST /v1/score`" in page and "### `GET /livez`" in page
    assert "| `invoices` | list of [InvoiceIn](#schema-invoicein) | yes | Open invoices. |" in page
    assert "| 400 | Malformed: [Error](#schema-error) |" in page
    assert "### InvoiceIn { #schema-invoicein }" in page
    assert "| `due_date` | string (date) | no |" in page
    assert "| `channel` | one of `email`, `sms` or null | no |" in page
    assert _section(page, "Endpoints").count("No API key needed.") == 1


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf key of a config model, as a dotted path (maps and lists of sections as
    .NAME and [])."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _keys(annotation, f"{prefix}{name}.")
        elif typing.get_origin(annotation) is dict and _is_model(args[1]):
            keys += _keys(args[1], f"{prefix}{name}.NAME.")
        elif typing.get_origin(annotation) is tuple and _is_model(args[0]):
            keys += _keys(args[0], f"{prefix}{name}[].")
        else:
            keys.append(prefix + name)
    return keys


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def test_the_config_page_lists_every_key_of_every_file_with_its_default():
    page = config_page(CONFIG_FILES)
    assert set(CONFIG_FILES) == {"configs/train.yaml", "configs/dunning.yaml", "configs/daily.yaml"}
    for name, model in CONFIG_FILES.items():
        section = _section(page, f"`{name}`")
        keys = _keys(model)
        assert len(keys) > (50 if model in (TrainConfig, DunningConfig) else 5)
        for key in keys:
            assert f"| `{key}` |" in section, key
    train, dunning = (
        _section(page, "`configs/train.yaml`"),
        _section(page, "`configs/dunning.yaml`"),
    )
    assert "| `effects.decision_offsets` | list of int | `[-4, 5, 15, 30, 45, 75]` |" in train
    assert "| `scenarios.NAME.steps[].offset_days` | int (≥ -60, ≤ 720) | required |" in dunning
    assert "| `language` | `en` or `fr` |" in dunning


def test_the_cli_page_lists_every_command_and_option():
    group = typer.main.get_command(app)
    page = cli_page(group, "payrisk")
    context = click.Context(group, info_name="payrisk")
    for name in group.list_commands(context):
        section = _section(page, f"`payrisk {name}`")
        for param in group.get_command(context, name).params:
            if isinstance(param, click.Option):
                assert f"`{param.opts[0]}" in section, (name, param.opts)
    assert "| `--overwrite / --no-overwrite` | `false` |" in _section(page, "`payrisk import`")
