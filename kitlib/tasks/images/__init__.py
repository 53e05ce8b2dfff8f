"""Image competitions (pictures and labels, Kaggle's layouts): where the images are, reading them, the models.

- :mod:`.layout`: :func:`find_image_layout` and :class:`ImageLayout` (the two layouts, the spec's image keys).
"""
from .layout import IMAGE_EXTENSIONS, LAYOUTS, SPEC_KEYS, ImageLayout, ImageOptions, find_image_layout, image_files

__all__ = ["IMAGE_EXTENSIONS", "LAYOUTS", "SPEC_KEYS", "ImageLayout", "ImageOptions", "find_image_layout",
           "image_files"]
