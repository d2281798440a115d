"""The OpenAPI document against the live service: schemathesis (its `st` CLI) generates requests
from /openapi.json, valid and invalid, and fails on any 5xx or any answer the document does not
describe (status, body schema, content type, headers, Allow of a 405).

One run per backend, on a server of its own (the fuzzer may delete what it finds), with a
bounded number of cases per operation and a fixed seed: well under a minute here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_helpers import assert_error
from api_server import Server, start_server

pytestmark = pytest.mark.api

ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 40
# Left out: positive_data_acceptance expects a schema-valid body to succeed, but an upload's bytes
# must also decode as an image, which no schema can say (base64 noise is rightly 415).
EXCLUDED_CHECKS = "positive_data_acceptance"


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory, server_backend: str) -> Iterator[Server]:
    srv = start_server(tmp_path_factory, "schemathesis", server_backend)
    yield srv
    srv.stop()


def test_every_answer_is_the_documents(fuzzed_server: Server, tmp_path: Path) -> None:
    key = fuzzed_server.create_key("fuzzer")
    command = [
        str(ST),
        "run",
        f"{fuzzed_server.base_url}/openapi.json",
        "--header",
        f"x-api-key: {key}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261201",
        "--generation-database",
        "none",
        # One worker: with several, CPython 3.11.7 fails parsing schemathesis' sources for
        # Hypothesis ("AST constructor recursion depth mismatch"), and one is as fast here.
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=170, cwd=tmp_path, check=False)
    report = result.stdout + result.stderr
    print(report[report.find("SUMMARY") :])
    assert result.returncode == 0, report[-12_000:]
    generated = re.search(r"(\d+) generated", report)
    assert generated and int(generated.group(1)) >= 200, report[-3000:]
    operations = re.search(r"Selected: (\d+)/(\d+)", report)
    assert operations and operations.group(1) == operations.group(2), report[-3000:]
    assert f"Tested: {operations.group(1)}" in report, report[-3000:]
    assert '"status": 500' not in fuzzed_server.stderr()


OPERATION_IDS = {
    ("post", "/images"): "uploadImages",
    ("get", "/images"): "listImages",
    ("delete", "/images"): "deleteImages",
    ("get", "/images/{image_id}"): "getImage",
    ("patch", "/images/{image_id}"): "updateImage",
    ("delete", "/images/{image_id}"): "deleteImage",
    ("get", "/images/{image_id}/content"): "getImageContent",
    ("head", "/images/{image_id}/content"): "headImageContent",
    ("get", "/{name}"): "getContentByName",
    ("head", "/{name}"): "headContentByName",
    ("post", "/images/uploads"): "startDirectUpload",
    ("put", "/images/uploads/{image_id}/data"): "putDirectUploadData",
    ("post", "/images/{image_id}/complete"): "completeDirectUpload",
    ("get", "/health"): "health",
}


def test_the_document_names_operations_and_their_security(anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    found = {(m, p): op["operationId"] for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert found == OPERATION_IDS
    schemes = spec["components"]["securitySchemes"]
    assert {k: v for k, v in schemes["ApiKey"].items() if k != "description"} == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    assert {k: v for k, v in schemes["Bearer"].items() if k != "description"} == {
        "type": "http",
        "scheme": "bearer",
    }
    paths = spec["paths"]
    keyed = [{"ApiKey": []}, {"Bearer": []}]
    assert paths["/images"]["post"]["security"] == keyed  # writes need a key
    assert paths["/images/{image_id}"]["delete"]["security"] == keyed
    assert paths["/images"]["get"]["security"] == [{}, *keyed]  # reads take one optionally
    assert paths["/images/{image_id}/content"]["get"]["security"] == [{}, *keyed]
    assert "security" not in paths["/health"]["get"]  # nor the signed upload URL:
    assert "security" not in paths["/images/uploads/{image_id}/data"]["put"]


def test_the_document_states_bounds_and_every_field(anon: httpx.Client) -> None:
    spec = anon.get("/openapi.json").json()
    listing = {p["name"]: p for p in spec["paths"]["/images"]["get"]["parameters"]}
    assert {"is_public", "q", "title", "description", "tag", "tags", "cursor", "last_key"} <= set(listing)
    assert (listing["limit"]["schema"]["minimum"], listing["limit"]["schema"]["maximum"]) == (1, 100)
    view = {p["name"]: p for p in spec["paths"]["/images/{image_id}"]["get"]["parameters"]}
    expires_in = view["expires_in"]["schema"]["anyOf"][0]
    assert (expires_in["minimum"], expires_in["maximum"]) == (1, 604800)
    assert view["image_id"]["schema"]["pattern"] == "^[A-Za-z0-9_\\-]{1,128}$"
    body = spec["paths"]["/images"]["post"]["requestBody"]["content"]
    fields = {"user_id", "filename", "name", "title", "description", "tags", "category", "visibility"}
    fields |= {"is_public", "width", "height"}
    assert set(body["multipart/form-data"]["schema"]["properties"]) == fields | {"file", "files"}
    assert set(body["application/json"]["schema"]["properties"]) == fields | {"image_data", "image_file"}
    content = spec["paths"]["/images/{image_id}/content"]["get"]["responses"]
    assert {"200", "206", "302", "304", "400", "401", "403", "404", "416", "503"} <= set(content)
    upload = spec["paths"]["/images"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409", "413", "415", "503"} <= set(upload)


def test_a_400_from_a_declared_bound_is_still_the_error_shape(anon: httpx.Client) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}):
        assert_error(anon.get("/images", params=params), 400)
    assert_error(anon.get("/images/not.an.id"), 400)
    assert_error(anon.get("/images/some-id", params={"expires_in": 604801}), 400)
