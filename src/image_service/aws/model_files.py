"""botocore's model files (service models, endpoint rule sets, partitions) read with orjson.

Making a client reads several megabytes of JSON: the service model and endpoint rule set of each
service, and the endpoint and partition data once per session. botocore parses them with
``json.loads(..., object_pairs_hook=OrderedDict)``, about 30 ms of a Lambda cold start for the S3
and DynamoDB clients; orjson gives the same values as plain dicts (which keep their order as
OrderedDict does) in a third of that. Only how the files are parsed changes: which files, in which
folders (``AWS_DATA_PATH``, ``~/.aws/models``, botocore's own), stays botocore's ``Loader``.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from botocore.loaders import JSONFileLoader

# botocore's order (JSONFileLoader): a plain .json beside a .json.gz wins.
EXTENSIONS = (".json", ".json.gz")


class OrjsonFileLoader(JSONFileLoader):
    """The ``file_loader`` of a botocore ``Loader``: botocore's JSONFileLoader (``exists`` is its
    own), reading the file of a path given without its extension with orjson."""

    def load_file(self, file_path: str) -> Any:
        for extension in EXTENSIONS:
            try:
                with open(file_path + extension, "rb") as handle:
                    payload = handle.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            return orjson.loads(gzip.decompress(payload) if extension.endswith(".gz") else payload)
        return None
