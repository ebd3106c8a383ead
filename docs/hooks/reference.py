"""Markdown for the documentation site, written from the code and the README, never by hand.

The data contract, the environment variables, the features and the HTTP API are declared once in
the code; the prose is written once in the README. These functions turn both into the site's pages
(`docs/hooks/site.py` calls them during `mkdocs build`), so the site cannot drift from either.
They need no MkDocs, so the fast tests check them.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from payrisk.core.config import TrainConfig
from payrisk.core.daily import DailyConfig
from payrisk.core.settings import Settings
from payrisk.data.contract import TABLES, Kind
from payrisk.features.definitions import FEATURES, RESPONSE_FEATURES, Family, Feature
from payrisk.policy.config import DunningConfig

# The configuration files a user edits, and the typed model each is read into.
CONFIG_FILES: dict[str, type[BaseModel]] = {
    "configs/train.yaml": TrainConfig,
    "configs/dunning.yaml": DunningConfig,
    "configs/daily.yaml": DailyConfig,
}

HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
# A page says where a README section goes: <!-- readme: ## Title --> puts the README's section
# "Title" there, its heading at level 2 and its subsections shifted alike.
README_MARKER = re.compile(r"^<!-- readme: (#{1,6}) (.+?) -->\s*$", re.MULTILINE)


def cell(text: object) -> str:
    """Text that stays in one table cell (pipes escaped, lines joined)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


# --- README sections ------------------------------------------------------------------------------


def _lines_outside_fences(lines: list[str]) -> list[bool]:
    """For each line, whether it is prose (a `#` inside a code block is a comment, not a title)."""
    outside, in_fence = [], False
    for line in lines:
        if FENCE.match(line):
            in_fence = not in_fence
            outside.append(False)
        else:
            outside.append(not in_fence)
    return outside


def readme_sections(readme: str) -> dict[str, tuple[int, str]]:
    """Each README section by title: its heading level and its text, heading and subsections
    included. The level-1 title's section is the introduction, up to the first subheading."""
    lines = readme.splitlines()
    headings = [
        (i, len(m.group(1)), m.group(2))
        for i, (line, prose) in enumerate(zip(lines, _lines_outside_fences(lines), strict=True))
        if prose and (m := HEADING.match(line))
    ]
    sections = {}
    for n, (start, level, title) in enumerate(headings):
        end = next((i for i, lv, _ in headings[n + 1 :] if lv <= level or level == 1), len(lines))
        sections[title] = (level, "\n".join(lines[start:end]).strip() + "\n")
    return sections


def shift_headings(text: str, by: int) -> str:
    """The same text with every heading `by` levels deeper (negative: higher), code untouched."""
    lines = text.splitlines()
    out = []
    for line, prose in zip(lines, _lines_outside_fences(lines), strict=True):
        m = HEADING.match(line) if prose else None
        if m:
            level = min(6, max(1, len(m.group(1)) + by))
            line = "#" * level + " " + m.group(2)
        out.append(line)
    return "\n".join(out) + "\n"


def include_readme(page: str, sections: Mapping[str, tuple[int, str]]) -> str:
    """The page with each README marker replaced by its section; an unknown title is an error
    (a renamed README heading must not leave a page silently empty)."""

    def section(match: re.Match[str]) -> str:
        title = match.group(2)
        if title not in sections:
            raise KeyError(f"README has no section {title!r} (docs marker {match.group(0)!r})")
        level, text = sections[title]
        return shift_headings(text, len(match.group(1)) - level)

    return README_MARKER.sub(section, page)


def included_titles(pages: Iterable[str]) -> set[str]:
    """The README sections these pages include."""
    return {m.group(2) for page in pages for m in README_MARKER.finditer(page)}


def readme_top_sections(readme: str) -> list[str]:
    """The README's level-1 and level-2 titles: each must be on some page of the site."""
    return [title for title, (level, _) in readme_sections(readme).items() if level <= 2]


# --- Data contract --------------------------------------------------------------------------------


def contract_page() -> str:
    """Every table and column of `payrisk.data.contract`."""
    parts = [
        "# Data contract reference",
        "Generated from `payrisk.data.contract`, the one place the loader, the validation, the "
        "importer and the generator read. Tables are CSV or Parquet files named after the table "
        "in the data folder; only `invoices` is required.",
        "Column types: " + ", ".join(f"`{kind.value}`" for kind in Kind) + ".",
    ]
    for t in TABLES.values():
        parts.append(f"## `{t.name}`")
        need = "required" if t.required else "optional"
        parts.append(f"{t.description} ({need}; rows are named by `{t.key}` in error messages)")
        parts.append(
            table(
                ["column", "type", "required", "meaning"],
                (
                    (f"`{c.name}`", c.kind.value, "yes" if c.required else "no", c.description)
                    for c in t.columns
                ),
            )
        )
    return "\n\n".join(parts) + "\n"


# --- Settings -------------------------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `list of int`, `` `en` or `fr` ``; None is left
    to the default column ("unset")."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in args if arg is not type(None))
    if origin in (tuple, list, set, frozenset) and args:
        return "list of " + type_name(args[0])
    if origin is dict and len(args) == 2:
        return f"map of {type_name(args[0])} to {type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def value_text(value: object) -> str:
    """A default as it is written in YAML or the environment."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, tuple | list | set | frozenset):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def default_text(field: FieldInfo) -> str:
    """The default as a reader sets it: paths under the working directory shown as `./...`."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_relative_to(Path.cwd()):
        return f"`./{value.relative_to(Path.cwd())}`"
    return f"`{value_text(value)}`" if value != "" else '`""`'


def bounds_text(field: FieldInfo) -> str:
    bounds = [
        f"{symbol} {getattr(item, name)}"
        for item in field.metadata
        for name, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
        if getattr(item, name, None) is not None
    ]
    return ", ".join(bounds)


def settings_page() -> str:
    """Every environment variable `payrisk.core.settings.Settings` reads."""
    rows = []
    for name, field in Settings.model_fields.items():
        kind = type_name(field.annotation)
        if bounds := bounds_text(field):
            kind += f" ({bounds})"
        rows.append(
            (f"`{Settings.variable(name)}`", kind, default_text(field), field.description or "")
        )
    intro = (
        "Generated from `payrisk.core.settings.Settings`: every variable payrisk reads, read "
        "once when a command or the service starts. An empty variable counts as unset; a bad "
        "value stops the start with the variable's name and the reason."
    )
    header = ["variable", "type", "default", "what"]
    return "\n\n".join(["# Environment variables", intro, table(header, rows)]) + "\n"


# --- Configuration files -------------------------------------------------------------------------


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds, and how its keys are reached: `` (section) ``, `.NAME` (a map
    of sections), `[]` (a list of them); (None, "") for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return _nested_model(inner[0]) if len(inner) == 1 else (None, "")
    if origin is dict and len(args) == 2:
        model, _ = _nested_model(args[1])
        return (model, ".NAME") if model else (None, "")
    if origin in (tuple, list) and args:
        model, _ = _nested_model(args[0])
        return (model, "[]") if model else (None, "")
    return None, ""


def _summary(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().split("\n\n")[0]


def config_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """One row per key of a config file, sections first, then their keys (dotted paths)."""
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + name
        inner, reach = _nested_model(field.annotation)
        if inner is not None:
            rows.append((f"`{key}{reach}`", "section", "", field.description or _summary(inner)))
            rows += config_rows(inner, f"{key}{reach}.")
            continue
        kind = type_name(field.annotation)
        if bounds := bounds_text(field):
            kind += f" ({bounds})"
        rows.append((f"`{key}`", kind, default_text(field), field.description or ""))
    return rows


def config_page(files: Mapping[str, type[BaseModel]]) -> str:
    """Every key of each config file, from the pydantic model that loads it."""
    parts = [
        "# Configuration files",
        "Generated from the pydantic models that load each file: an unknown key or a bad value "
        "stops the command with the file, the key and the reason. A key left out takes the "
        "default below; the shipped files in `configs/` set most of them explicitly.",
    ]
    for file, model in files.items():
        parts += [
            f"## `{file}`",
            _summary(model),
            table(["key", "type", "default", "what"], config_rows(model)),
        ]
    return "\n\n".join(part for part in parts if part) + "\n"


# --- Command line ---------------------------------------------------------------------------------


def _option_name(param: click.Parameter) -> str:
    if isinstance(param, click.Argument):
        return param.human_readable_name
    return " / ".join(", ".join(opts) for opts in (param.opts, param.secondary_opts) if opts)


def _option_default(param: click.Parameter) -> str:
    if param.required:
        return "required"
    if param.default is None or param.default == () or callable(param.default):
        return ""
    return f"`{value_text(param.default)}`"


def cli_page(group: click.Group, program: str) -> str:
    """Every command of the CLI with its arguments and options (typer's click commands)."""
    parts = [
        "# Command line",
        f"Generated from `{program} --help` (typer): every command, argument and option. "
        f"`{program} COMMAND --help` says the same in a terminal.",
    ]
    context = click.Context(group, info_name=program)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        parts += [f"## `{program} {name}`", (command.help or "").strip()]
        rows = [
            (f"`{_option_name(param)}`", _option_default(param), getattr(param, "help", "") or "")
            for param in command.params
            if not getattr(param, "hidden", False)
        ]
        if rows:
            parts.append(table(["argument or option", "default", "what"], rows))
    return "\n\n".join(part for part in parts if part) + "\n"


# --- Features -------------------------------------------------------------------------------------


def _feature_rows(features: Iterable[Feature]) -> list[tuple[str, str, str]]:
    return [
        (f"`{f.name}`", "categorical" if f.categorical else "number", f.description)
        for f in features
    ]


def features_page() -> str:
    """The built-in features by family, in the models' column order, then the channel-effect
    models' extra inputs."""
    parts = [
        "# Features",
        "Generated from `payrisk.features.definitions`. Each feature is computed at a moment t "
        'from what was known at t (see Training, "Features, point in time"). The risk models '
        f"read the {len(FEATURES)} built-in features below in this order, then the ones you "
        "declare in `configs/train.yaml` (`features.declared`); reasons name at most one "
        "feature per family.",
    ]
    for family in Family:
        members = [f for f in FEATURES if f.family is family]
        if members:
            parts += [
                f"## {family.value}",
                table(["feature", "kind", "meaning"], _feature_rows(members)),
            ]
    parts += [
        "## Channel-effect inputs",
        "What the channel-effect models (`payrisk.models.effects`) read besides the features "
        "above: the customer's own answers to reminders, by channel.",
        table(["feature", "kind", "meaning"], _feature_rows(RESPONSE_FEATURES)),
    ]
    return "\n\n".join(parts) + "\n"


# --- HTTP API -------------------------------------------------------------------------------------


def _anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def schema_type(schema: Mapping[str, Any]) -> str:
    """A property's type in words, with links to the named schemas it refers to."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in schema:
        return " or ".join(schema_type(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "list of " + schema_type(schema.get("items", {}))
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def properties_table(schema: Mapping[str, Any]) -> str:
    required = set(schema.get("required", ()))
    rows = [
        (f"`{name}`", schema_type(prop), "yes" if name in required else "no",
         prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]  # fmt: skip
    if not rows:
        return "No fields."
    return table(["field", "type", "required", "meaning"], rows)


def _body_schema(part: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return part.get("content", {}).get("application/json", {}).get("schema")


def _schema_link(schema: Mapping[str, Any]) -> str:
    """A link for a named schema, or the inline schema's fields (BentoML inlines bodies)."""
    if "$ref" in schema:
        return schema_type(schema)
    return properties_table(schema)


def api_page(spec: Mapping[str, Any]) -> str:
    """Every path, method, request body, answer and schema of the service's OpenAPI spec."""
    info = spec["info"]
    parts = [
        "# HTTP API reference",
        f"Generated from the OpenAPI spec the service serves at `/docs.json` ({info['title']} "
        f"{info['version']}, OpenAPI {spec['openapi']}), built offline from the same code; "
        "download it as [openapi.json](openapi.json) for your HTTP client or code generator. "
        "Limits shown (batch size...) are those of the environment the site was built in: the "
        "defaults, unless `PAYRISK_*` variables were set (see Environment variables).",
        info.get("description", ""),
        "## Endpoints",
    ]
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            parts.append(f"### `{method.upper()} {path}`")
            parts.append(operation.get("description", ""))
            if operation.get("security") == []:
                parts.append("No API key needed.")
            body = _body_schema(operation.get("requestBody", {}))
            if body is not None:
                parts += ["**Request body**", _schema_link(body)]
            answers = []
            for status, answer in operation.get("responses", {}).items():
                schema = _body_schema(answer)
                what = answer.get("description", "")
                if schema is not None:
                    what += ": " + (
                        schema_type(schema) if "$ref" in schema else schema.get("title", "object")
                    )
                answers.append((status, what))
            parts += ["**Answers**", table(["status", "body"], answers)]
            ok = _body_schema(operation.get("responses", {}).get("200", {}))
            if ok is not None and "$ref" not in ok and ok.get("properties"):
                parts += [f"**{ok.get('title', 'Answer')}** (status 200)", properties_table(ok)]
    parts.append("## Schemas")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(f"### {name} {{ #{_anchor(name)} }}")
        if schema.get("description"):
            parts.append(schema["description"])
        parts.append(properties_table(schema))
    return "\n\n".join(part for part in parts if part) + "\n"
