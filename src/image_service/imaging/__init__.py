"""The imaging engine: the upload gate, the memory budget, metadata privacy and renditions."""

from image_service.imaging.budget import PixelBudget, process_budget
from image_service.imaging.inspect import ACCEPTED_FORMATS, ImageInfo, inspect_image

__all__ = ["ACCEPTED_FORMATS", "ImageInfo", "PixelBudget", "inspect_image", "process_budget"]
