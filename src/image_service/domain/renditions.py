"""Where renditions live in the blob store: one folder of objects per image, beside the originals.

``~renditions/<image_id>/<token>``: the ``~`` keeps the folder apart from every original's key
(``<user_id>/<image_id>``; user ids never start with ``~``), the image id lets one prefix delete
every rendition of an image and lets fsck tie each object to its image, and the token names the
normalised request and the engine's settings (``services/renditions.py``), so the same request
always finds the same object and a change of defaults makes new ones.
"""

from __future__ import annotations

RENDITIONS_PREFIX = "~renditions/"


def rendition_prefix(image_id: str) -> str:
    """The prefix of every rendition object of one image."""
    return f"{RENDITIONS_PREFIX}{image_id}/"


def rendition_key(image_id: str, token: str) -> str:
    return f"{rendition_prefix(image_id)}{token}"


def image_id_of_rendition(key: str) -> str | None:
    """The image a rendition object belongs to; None when ``key`` is not a rendition's."""
    if not key.startswith(RENDITIONS_PREFIX):
        return None
    image_id, sep, token = key[len(RENDITIONS_PREFIX) :].partition("/")
    return image_id if sep and image_id and token else None
