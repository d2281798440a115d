"""The deploy template, ``infra/template.yaml``: its generated parts and its expansion by SAM.

The table's keys, indexes and TTL, and the index ARNs the function may query, are not copied by
hand: they are written from ``aws/table.py`` between ``# BEGIN GENERATED <block>`` and
``# END GENERATED <block>`` lines by ``image-service template --write``, and ``make test`` fails
while the file differs from what the code generates.

``expand`` turns the SAM template into plain CloudFormation with aws-sam-translator, the library
behind the SAM transform, so that what ``image-service deploy`` creates is exactly what the tests
created on moto's CloudFormation.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from image_service.aws import table

TEMPLATE = Path("infra/template.yaml")
_BLOCK = re.compile(
    r"^(?P<indent>[ ]*)# BEGIN GENERATED (?P<name>[\w-]+)\n.*?^[ ]*# END GENERATED (?P=name)\n",
    re.MULTILINE | re.DOTALL,
)


def table_properties() -> dict[str, Any]:
    """The table's properties that come from the code, as CloudFormation spells them."""
    request = table.create_table_request("unused")
    del request["TableName"]
    return {
        **request,
        "TimeToLiveSpecification": {"AttributeName": table.TTL_ATTRIBUTE, "Enabled": True},
    }


def index_arns() -> list[dict[str, str]]:
    return [{"Fn::Sub": f"${{ImageTable.Arn}}/index/{name}"} for name, _, _ in table.INDEXES]


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=100)


def generated_blocks() -> dict[str, str]:
    """Each generated block's text, unindented."""
    arns = "".join(f'- !Sub "{arn["Fn::Sub"]}"\n' for arn in index_arns())
    return {"table": _yaml(table_properties()), "index-arns": arns}


def regenerate(text: str) -> str:
    """The template text with every generated block rewritten from the code."""
    blocks = generated_blocks()

    def replace(match: re.Match[str]) -> str:
        indent, name = match["indent"], match["name"]
        if name not in blocks:
            raise ValueError(f"the template names an unknown generated block: {name}")
        body = "".join(f"{indent}{line}\n" for line in blocks[name].splitlines())
        return f"{indent}# BEGIN GENERATED {name}\n{body}{indent}# END GENERATED {name}\n"

    found = {match["name"] for match in _BLOCK.finditer(text)}
    if missing := set(blocks) - found:
        raise ValueError(f"the template lacks the generated blocks: {', '.join(sorted(missing))}")
    return _BLOCK.sub(replace, text)


def load(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML; short intrinsics (``!Ref x``) become their long form."""
    from samtranslator.yaml_helper import yaml_parse

    parsed = yaml_parse(text)
    if not isinstance(parsed, dict):
        raise ValueError("a template is a YAML mapping")
    return parsed


def expand(
    template: Mapping[str, Any], *, region: str, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The SAM template as plain CloudFormation (what the SAM transform makes of it on AWS).

    Every code location must already be an S3 URI; no managed policy is looked up, because the
    template names none (its one role is written out in full).
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    expanded: dict[str, Any] = translator.translate(
        copy.deepcopy(dict(template)),  # the translator changes what it is given
        parameter_values=translator_values(template, parameters or {}),
        get_managed_policy_map=dict,
    )
    return expanded


def translator_values(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """Parameter values as the SAM translator must see them. It writes some of them into what it
    generates (the HTTP API's CORS origins, say), so a CommaDelimitedList must be the list that
    CloudFormation would make of it, not the comma-joined text it is passed as."""
    declared = template.get("Parameters", {})
    values: dict[str, Any] = dict(parameters)
    for name, value in parameters.items():
        if declared.get(name, {}).get("Type") == "CommaDelimitedList":
            values[name] = [item.strip() for item in value.split(",")] if value else []
    return values
