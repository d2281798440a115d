"""Image inspection: the format, size and integrity gate for uploaded images."""

from image_service.imaging.inspect import ACCEPTED_FORMATS, ImageInfo, inspect_image

__all__ = ["ACCEPTED_FORMATS", "ImageInfo", "inspect_image"]
