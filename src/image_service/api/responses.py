"""JSON responses that say their charset, as the contract's conventions ask."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class JsonResponse(JSONResponse):
    media_type = "application/json; charset=utf-8"
