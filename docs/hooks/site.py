"""MkDocs hooks (mkdocs.yml `hooks:`): the README's sections into the pages, the reference pages
from the code.

Kept thin: what the pages say is made by `docs.hooks.reference`, which the fast tests check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from docs.hooks.reference import (
    CONFIG_FILES,
    api_page,
    cli_page,
    config_page,
    contract_page,
    features_page,
    include_readme,
    readme_sections,
    settings_page,
)
from payrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]


def openapi_spec() -> dict[str, Any]:
    """The spec the service serves at /docs.json, built without starting it (importing the
    service module reads the settings and configs but loads no model; imported here, when the
    build asks, since it sets process-wide variables)."""
    from payrisk.service import CATALOG, PayriskService
    from payrisk.serving.openapi import served_spec

    return served_spec(PayriskService.openapi_spec.asdict(), list(CATALOG.dunning_config.scenarios))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated reference pages and the spec itself, for download."""
    spec = openapi_spec()
    generated = {
        "reference/cli.md": cli_page(typer.main.get_command(app), "payrisk"),
        "reference/config-files.md": config_page(CONFIG_FILES),
        "reference/contract.md": contract_page(),
        "reference/settings.md": settings_page(),
        "reference/features.md": features_page(),
        "reference/http-api.md": api_page(spec),
        "reference/openapi.json": json.dumps(spec, indent=2) + "\n",
    }
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Each `<!-- readme: ## Title -->` marker becomes that README section."""
    sections = readme_sections((ROOT / "README.md").read_text(encoding="utf-8"))
    return include_readme(markdown, sections)
