"""Prompt-agent definitions: what a version may contain, and how a request fills its slots.

A definition's ``{{name}}`` placeholders (in code-interpreter ``file_ids`` and in the
instructions) are filled per request from ``structured_inputs``, falling back to each input's
``default_value``; file ids that render empty are dropped, which is how a fixed number of file
slots carries a changing set of files.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from bot.emulators.foundry.errors import bad_request
from bot.emulators.foundry.state import Json

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
MEMORY_LIMITS = ("1g", "4g", "16g", "64g")
MAX_TOOLS = 128


def _check_container(container: Any, param: str) -> Json:
    if container is None:
        return {"type": "auto", "file_ids": []}
    if isinstance(container, str):
        raise bad_request('This emulator supports only automatic containers ({"type": "auto"}).', param=param)
    if not isinstance(container, dict) or container.get("type") != "auto":
        raise bad_request('container must be {"type": "auto", ...} or a container id.', param=param)
    file_ids = container.get("file_ids", [])
    if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
        raise bad_request("file_ids must be an array of strings.", param=f"{param}.file_ids")
    if container.get("memory_limit") not in (None, *MEMORY_LIMITS):
        raise bad_request(f"memory_limit must be one of {', '.join(MEMORY_LIMITS)}.", param=f"{param}.memory_limit")
    policy = container.get("network_policy")
    if policy is not None and (not isinstance(policy, dict) or policy.get("type") not in ("disabled", "allowlist")):
        raise bad_request("network_policy.type must be 'disabled' or 'allowlist'.", param=f"{param}.network_policy")
    return {**container, "file_ids": list(file_ids)}


def _check_tools(tools: Any) -> list[Json]:
    if tools is None:
        return []
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        raise bad_request(f"tools must be an array of at most {MAX_TOOLS} tools.", param="definition.tools")
    checked: list[Json] = []
    for index, tool in enumerate(tools):
        param = f"definition.tools[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise bad_request("Each tool must be an object with a string 'type'.", param=param)
        if tool["type"] == "code_interpreter":
            tool = {**tool, "container": _check_container(tool.get("container"), f"{param}.container")}
        checked.append(tool)
    if sum(1 for tool in checked if tool["type"] == "code_interpreter") > 1:
        raise bad_request("At most one code_interpreter tool is allowed.", param="definition.tools")
    return checked


def _check_inputs(inputs: Any) -> Json:
    if inputs is None:
        return {}
    if not isinstance(inputs, dict):
        raise bad_request("structured_inputs must be an object.", param="definition.structured_inputs")
    for name, spec in inputs.items():
        param = f"definition.structured_inputs.{name}"
        if not PLACEHOLDER.fullmatch("{{" + name + "}}"):
            raise bad_request(f"'{name}' is not a valid structured input name.", param=param)
        if not isinstance(spec, dict):
            raise bad_request("Each structured input must be an object.", param=param)
        if "required" in spec and not isinstance(spec["required"], bool):
            raise bad_request("required must be a boolean.", param=f"{param}.required")
    return dict(inputs)


def placeholders(definition: Json) -> set[str]:
    """Every ``{{name}}`` the definition's instructions and file ids refer to."""
    texts = [definition.get("instructions") or ""]
    for tool in definition.get("tools", []):
        if tool["type"] == "code_interpreter":
            texts.extend(tool["container"]["file_ids"])
    return {match.group(1) for text in texts for match in PLACEHOLDER.finditer(text)}


def check_definition(definition: Any) -> Json:
    """A validated copy of a prompt-agent definition; 400 ``invalid_payload`` when it is wrong."""
    if not isinstance(definition, dict):
        raise bad_request("definition is required and must be an object.", param="definition")
    if definition.get("kind") != "prompt":
        raise bad_request("definition.kind must be 'prompt' (the kind this emulator runs).", param="definition.kind")
    if not isinstance(definition.get("model"), str) or not definition["model"].strip():
        raise bad_request("definition.model (a model deployment name) is required.", param="definition.model")
    if not isinstance(definition.get("instructions", ""), str | None):
        raise bad_request("definition.instructions must be a string.", param="definition.instructions")
    checked = copy.deepcopy(definition)
    checked["tools"] = _check_tools(definition.get("tools"))
    checked["structured_inputs"] = _check_inputs(definition.get("structured_inputs"))
    undefined = placeholders(checked) - set(checked["structured_inputs"])
    if undefined:
        raise bad_request(
            f"Placeholders without a structured input definition: {', '.join(sorted(undefined))}.",
            param="definition.structured_inputs",
        )
    return checked


def input_values(definition: Json, given: Any, agent_id: str) -> Json:
    """The structured-input values for one request: given values over defaults; 400 on unknown keys."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise bad_request("structured_inputs must be an object.", param="structured_inputs")
    defined: Json = definition.get("structured_inputs", {})
    for name in given:
        if name not in defined:
            message = f"Structured input '{name}' is not defined by agent '{agent_id}'."
            raise bad_request(message, param="structured_inputs")
    values: Json = {}
    for name, spec in defined.items():
        if name in given:
            values[name] = given[name]
        elif "default_value" in spec:
            values[name] = spec["default_value"]
        elif spec.get("required"):
            raise bad_request(f"Missing value for required structured input '{name}'.", param="structured_inputs")
    return values


def render(template: str, values: Json) -> str:
    """Fill ``{{name}}`` placeholders; a placeholder with no value left is a 400."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values or values[name] is None:
            raise bad_request(f"No value for structured input '{name}'.", param="structured_inputs")
        return str(values[name])

    return PLACEHOLDER.sub(fill, template)


def resolved_tools(definition: Json, values: Json) -> list[Json]:
    """The agent's tools with placeholders filled and empty file ids dropped."""
    tools: list[Json] = []
    for tool in definition.get("tools", []):
        if tool["type"] == "code_interpreter":
            file_ids = [render(f, values).strip() for f in tool["container"]["file_ids"]]
            tool = {**tool, "container": {**tool["container"], "file_ids": [f for f in file_ids if f]}}
        tools.append(tool)
    return tools
