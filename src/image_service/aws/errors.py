"""botocore failures as the service's errors: throttling and outages are 503, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from image_service.domain.errors import BackendUnavailable, NotFound

UNAVAILABLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "SlowDown",
    "InternalError",
    "RequestTimeout",
    "LimitExceededException",
}
# ResourceNotFoundException (no such table) is a deployment problem, not a missing image.
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
DEPLOYMENT_CODES = {"ResourceNotFoundException", "NoSuchBucket", "AccessDenied", "AccessDeniedException"}
# DynamoDB refuses Queries of a GSI still being built (after a deploy that adds one) with a
# ValidationException that says so: the index will answer once its backfill ends, so retry.
BACKFILLING = "cannot read from backfilling global secondary index"


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Map what botocore raises (after its own retries) to NotFound or BackendUnavailable."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if code in MISSING_CODES:
            raise NotFound(f"{what} not found") from error
        if code in UNAVAILABLE_CODES:
            raise BackendUnavailable(f"{what} is busy; retry later ({code})") from error
        if (
            code == "ValidationException"
            and BACKFILLING in str(error.response["Error"].get("Message", "")).lower()
        ):
            raise BackendUnavailable(f"{what} is building an index; retry later") from error
        if code in DEPLOYMENT_CODES:
            raise BackendUnavailable(f"{what} is not reachable with this configuration ({code})") from error
        raise  # anything else is a request we built wrongly: a bug, answered 500 and logged
    except BotoCoreError as error:
        raise BackendUnavailable(f"{what} is unreachable") from error
