"""The JSON Schema of the graph file format, and the field reference rendered from it.

``docs/graph-format.md`` holds the rendered reference between two marker lines; a test
checks it is current and rewrites it when ``FLOWAGENTS_UPDATE_DOCS=1`` is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowagents.graph._findings import CODES
from flowagents.graph._spec import GraphSpec

BEGIN = "<!-- BEGIN FIELD REFERENCE (generated from the JSON Schema; do not edit) -->"
END = "<!-- END FIELD REFERENCE -->"


def graph_json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) that graph files follow."""
    schema = GraphSpec.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "flowagents conversation graph",
        **schema,
    }


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " \\| ".join(_type(option) for option in prop[key])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of name → {_type(prop['additionalProperties'])}"
    return str(kind)


def _default(prop: dict[str, Any]) -> str:
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`"
    if prop.get("type") == "array":
        return "`[]`"
    if prop.get("type") == "object":
        return "`{}`"
    return "(all defaults)"


def render_reference(schema: dict[str, Any] | None = None) -> str:
    """Render a markdown table per schema object, then the table of finding codes."""
    schema = schema or graph_json_schema()
    defs: dict[str, Any] = schema["$defs"]
    order = ["GraphSpec", *sorted(name for name in defs if name != "GraphSpec")]
    out: list[str] = []
    for name in order:
        definition = defs[name]
        required = set(definition.get("required", ()))
        out += [f"### {name}", "", definition.get("description", ""), ""]
        out += ["| field | type | default | description |", "|---|---|---|---|"]
        for field, prop in definition.get("properties", {}).items():
            default = "*required*" if field in required else _default(prop)
            text = prop.get("description", "").replace("|", "\\|").replace("\n", " ")
            out.append(f"| `{field}` | {_type(prop)} | {default} | {text} |")
        out.append("")
    out += ["### Finding codes", "", "| code | severity | rule |", "|---|---|---|"]
    out += [f"| `{code}` | {severity} | {rule} |" for code, (severity, rule) in CODES.items()]
    out.append("")
    return "\n".join(out)


def update_doc(path: Path) -> bool:
    """Rewrite the generated part of ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{render_reference()}\n{END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True

