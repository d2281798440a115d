"""The client's defaults, in a module that imports nothing (the CLI reads them at start-up)."""

from __future__ import annotations

DEFAULT_URL = "http://127.0.0.1:8000"  # where `image-service serve` listens by default
# Files above this go through the direct-upload flow: API Gateway and Lambda cap a request body
# at 6 MB, which a multipart upload of ~4.4 MB of image already fills (docs/API.md, AWS backend).
INLINE_LIMIT = 4 * 1024 * 1024
