"""The configuration reference, generated from Settings (rag/config.py): one table per section.

    python -m testing.config_doc > docs/configuration.md

tests/test_docs.py fails when docs/configuration.md differs from what this prints, so the reference
cannot drift from the code: change a field's description in rag/config.py, then run the command above.
"""

from __future__ import annotations

import enum
import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

COMMAND = "python -m testing.config_doc > docs/configuration.md"

INTRO = f"""\
# Configuration reference

<!-- Generated from rag/config.py by `{COMMAND}`; do not edit by hand
     (tests/test_docs.py fails when this file is stale). -->

Every setting is an environment variable with the `RAG_` prefix, or a line in a `.env` file in the
working directory (the environment wins). The name without the prefix, in lower case, is also the
keyword of `rag.Settings(...)` and the key of `rag eval --config 'name:key=value,...'`.
Values are checked when the settings are read: a bad one is a one-line error naming the variable
(`error: invalid setting: RAG_TOP_K: Input should be greater than or equal to 1`).

`Settings` is made of one section per stage (see [architecture](architecture.md)); the tables below
are those sections, in the order the data flows.
"""

OUTRO = """\
## Outside the `RAG_` prefix

| variable | default | description |
|---|---|---|
| `OPENAI_API_KEY` | unset | Key for the OpenAI-compatible server (the LLM, and `RAG_EMBEDDER=openai`); any non-empty value for a local server. Read only by `rag/llm/client.py`; never logged or shown. |
| `OPENAI_BASE_URL` | unset | URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp: see [LLM servers](llm-servers.md)); unset: api.openai.com. With `RAG_LLM=auto`, either variable switches answers to the LLM. |
"""

_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def _value(value: Any) -> str:
    """A default as it would be written in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _type(annotation: Any) -> str:
    """A field's type in words: allowed values for a Literal, 'optional' for `X | None`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(f"`{_value(a)}`" for a in get_args(annotation))  # _cell escapes the bars
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = " or ".join(_type(a) for a in args)
        return f"{inner}, optional" if len(args) < len(get_args(annotation)) else inner
    if annotation is SecretStr:
        return "secret string"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return {bool: "bool", int: "int", float: "number", str: "string"}.get(annotation, getattr(annotation, "__name__",
                                                                                            str(annotation)))


def _bounds(field: FieldInfo) -> str:
    """The numeric constraints pydantic enforces (ge, gt, le, lt), e.g. '1 ≤ x ≤ 200'."""
    found = {name: getattr(meta, name) for meta in field.metadata for name, _ in _BOUNDS
             if getattr(meta, name, None) is not None}
    low = next((f"{_value(found[n])} {'≤' if n == 'ge' else '<'} " for n in ("ge", "gt") if n in found), "")
    high = next((f" {'≤' if n == 'le' else '<'} {_value(found[n])}" for n in ("le", "lt") if n in found), "")
    return f"{low}x{high}" if low or high else ""


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed (see description)"  # e.g. the data home: depends on the machine, so not printed
    if field.default is None:
        return "unset"
    return f"`{_value(field.default)}`"


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def section_table(section: type[BaseModel], prefix: str) -> str:
    """One section: its heading, its docstring and a table of its fields."""
    title = section.__name__.removesuffix("Settings")
    doc = _cell(section.__doc__ or "")
    rows = ["| variable | type / allowed values | default | description |", "|---|---|---|---|"]
    for name, field in section.model_fields.items():
        kind = _type(field.annotation)
        bounds = _bounds(field)
        kind = f"{kind}, {bounds}" if bounds else kind
        rows.append(f"| `{prefix}{name.upper()}` | {_cell(kind)} | {_default(field)} | "
                    f"{_cell(field.description or '')} |")
    return f"## {title} (`{section.__name__}`)\n\n{doc}\n\n" + "\n".join(rows) + "\n"


def render() -> str:
    """The whole of docs/configuration.md."""
    from rag.config import SECTIONS, Settings

    prefix = Settings.model_config.get("env_prefix", "")
    seen = set().union(*(s.model_fields for s in SECTIONS))
    missing = sorted(set(Settings.model_fields) - seen)
    if missing:  # a field added to Settings outside every section would be silently undocumented
        raise SystemExit(f"Settings fields in no section of rag/config.py SECTIONS: {', '.join(missing)}")
    parts = [INTRO, *(section_table(s, prefix) for s in SECTIONS), OUTRO]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
