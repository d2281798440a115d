"""The one definition of the DynamoDB table: keys, indexes, shards, TTL.

The adapter, `image-service emulate`, the tests and the deploy template all read it from here, so
the table a test creates is the table production runs on. See docs/ARCHITECTURE.md for the access
patterns each index serves.

Items (every key is a string):

===================  ================  =========================================================
PK                   SK                what
===================  ================  =========================================================
IMAGE#<id>           IMAGE             the image: every field, counters and list copy; GSI1-3 keys
IMAGE#<id>           TAG#<tag>         one per tag: the list fields and copy; GSI4 keys
IMAGE#<id>           WORD#<word>       one per indexed word: the filter attributes, its fields; GSI5
IMAGE#<id>           PREFIX#<p>        one per 1-3 letter prefix of its words: those words; GSI5
VOCAB#<first 3>      <word>            one per word of the whole table: how many images hold it
USERCOUNT#<u>#<vis>  COUNT             how many images user u has of that visibility
NAME#<name>          NAME              the unique name -> image_id
APIKEY#<sha256>      APIKEY            an API key (hash only); GSI1 lists them
PENDING#<id>         PENDING           a direct upload in progress; GSI2 finds expired ones
IDEMPOTENCY#<u>#<k>  IDEMPOTENCY       Idempotency-Key k of user u: claim, image ids, answer
===================  ================  =========================================================

Indexes (sort key always ``<created_at ISO>#<image_id>``, so one Query is newest first):

- ``by_user_v2`` (GSI1): ``USER#<user>#<visibility>`` (and ``APIKEYS`` for the key list).
- ``by_visibility_v2`` (GSI2): ``VIS#<visibility>#<shard>`` (and ``PENDING`` by expiry).
- ``by_category_v2`` (GSI3): ``CAT#<category>#<shard>``.
- ``by_tag_v2`` (GSI4): ``TAG#<tag>#<shard>``.
- ``by_text`` (GSI5): ``WORD#<word>#<shard>`` and ``PREFIX#<prefix>#<shard>`` (text search).

The feeds that every upload writes to (visibility, popular categories and tags) are split over
``SHARDS`` partitions by a hash of the image id, so no single partition takes every write; a list
reads the shards in parallel and merges them. A user's partition is not sharded: one user does
not upload a thousand images a second.

The four list indexes project what a list answer shows (``LIST_PROJECTED``), and tag items
carry the same: a list page is its Queries, with no BatchGetItem of the images (which bills
every image as a 4 KB read). The exact counters (``access_count``, ``last_accessed_at``) are
not projected: a counted access would rewrite every index entry of the image (8 write units
instead of 1). Lists show ``listed``, a copy of them refreshed at most once per
``LIST_COUNT_REFRESH`` (docs/ARCHITECTURE.md, "List items"). ``by_text`` keeps small items (an
image has up to a few hundred); a text page reads its images. The ``_v2`` names exist because a
deployed index cannot change its projection: an upgrade creates these beside the old ones
(docs/DEPLOY.md).
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any

SHARDS = 4
PK, SK = "PK", "SK"
TTL_ATTRIBUTE = "expires_ttl"

# (index name, partition key attribute, sort key attribute)
BY_USER = ("by_user_v2", "GSI1PK", "GSI1SK")
BY_VISIBILITY = ("by_visibility_v2", "GSI2PK", "GSI2SK")
BY_CATEGORY = ("by_category_v2", "GSI3PK", "GSI3SK")
BY_TAG = ("by_tag_v2", "GSI4PK", "GSI4SK")
BY_TEXT = ("by_text", "GSI5PK", "GSI5SK")
INDEXES = (BY_USER, BY_VISIBILITY, BY_CATEGORY, BY_TAG, BY_TEXT)

# What ``by_text`` carries besides its keys: the list filters, which fields hold the item's word
# or which words have its prefix. The list exactly as deployed before the ``_v2`` indexes (the
# API-key names included, which no text item has): a changed projection would mean a new index.
TEXT_PROJECTED = (
    "image_id",
    "user_id",
    "visibility",
    "category",
    "tags",
    "created_at",
    "key_id",
    "key_hash",
    "is_admin",
    "revoked_at",
    "expires_at",
    "fields",
    "title_words",
    "description_words",
)


# The list copy of an image's counters (a map: count, at, copied_at) and how often at most a
# counted access refreshes it (and the tag items' copies with it).
LISTED = "listed"
LIST_COUNT_REFRESH = timedelta(seconds=60)

# What the list indexes carry besides their keys: every field of a list answer
# (``dynamodb_items.list_attributes``) and the list copy of the counters, never the exact ones.
LIST_PROJECTED = (
    "image_id",
    "user_id",
    "visibility",
    "tags",
    "created_at",
    "category",
    "name",
    "filename",
    "content_type",
    "format",
    "width",
    "height",
    "size",
    "checksum_sha256",
    "s3_key",
    "updated_at",
    "title",
    "description",
    "orientation",
    LISTED,
)
# ``by_user_v2`` also lists the API keys (``APIKEYS``), read from the index as they are.
KEY_PROJECTED = ("key_id", "key_hash", "is_admin", "revoked_at")
# DynamoDB's limit: the non-key attributes of all INCLUDE projections of a table, summed over
# its indexes (an attribute in two counts twice).
MAX_PROJECTED = 100


def shard_of(image_id: str) -> int:
    return zlib.crc32(image_id.encode()) % SHARDS


def key_schema() -> list[dict[str, str]]:
    return [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}]


def attribute_definitions() -> list[dict[str, str]]:
    names = [PK, SK] + [attr for _, pk, sk in INDEXES for attr in (pk, sk)]
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def global_secondary_indexes() -> list[dict[str, Any]]:
    return [
        {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": pk, "KeyType": "HASH"},
                {"AttributeName": sk, "KeyType": "RANGE"},
            ],
            "Projection": _projection(name),
        }
        for name, pk, sk in INDEXES
    ]


def projected(index_name: str) -> tuple[str, ...]:
    """The non-key attributes an index carries."""
    if index_name == BY_TEXT[0]:
        return TEXT_PROJECTED
    if index_name == BY_USER[0]:
        return LIST_PROJECTED + KEY_PROJECTED
    return LIST_PROJECTED


def _projection(index_name: str) -> dict[str, Any]:
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(projected(index_name))}


def create_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable request (on-demand); the deploy template holds the same definition."""
    return {
        "TableName": table_name,
        "KeySchema": key_schema(),
        "AttributeDefinitions": attribute_definitions(),
        "GlobalSecondaryIndexes": global_secondary_indexes(),
        "BillingMode": "PAY_PER_REQUEST",
    }
