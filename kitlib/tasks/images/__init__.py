"""Image competitions (pictures and labels, Kaggle's layouts): where the images are, reading them, the models.

- :mod:`.layout`: :func:`find_image_layout` and :class:`ImageLayout` (the two layouts, the spec's image keys);
- :mod:`.reading`: :func:`read_image` (decode and resize), grayscale or colour, the cache's content key;
- :mod:`.loader`: the file loader (worker processes), the decoded cache (:func:`decoded`), :class:`PixelBatches`;
- :mod:`.augment`: flips, crops and colour jitter on batches, test-time views;
- :mod:`.data`: :func:`load` the rows into :class:`ImageData`, :func:`image_summary`, :func:`plot_samples`;
- :mod:`.cnn`: :class:`SmallCNN`, its output :class:`Heads`, its weights folder;
- :mod:`.models`: the fold functions (pixels + logistic regression, the CNN), :class:`CNNSettings`;
- :mod:`.plan`: :class:`CNNPlan`, the CNN's epochs and folds within the time budget;
- :mod:`.steps`: :func:`decode`, :func:`evaluate_models`, :class:`ImageInputs`, :func:`common_folds`;
- :mod:`.results`: the run folder's :func:`prediction_tables`, :func:`plot_results`.
"""
from .augment import AUGMENTATIONS, batch_augmenter, parse_augment, tta_views
from .cnn import CNNConfig, Heads, SmallCNN, load_weights, save_weights
from .data import ImageData, image_summary, load, plot_samples
from .layout import (
    IMAGE_EXTENSIONS,
    LAYOUTS,
    SPEC_KEYS,
    ImageLayout,
    ImageOptions,
    find_image_layout,
    image_files,
    layout_from_spec_file,
)
from .loader import PixelBatches, decoded, file_loader
from .models import CNNSettings, cnn_fold, heads_of, measure_speed, pixel_features, pixels_fold
from .plan import CNNPlan, reserve_seconds
from .reading import choose_channels, read_image
from .results import plot_results, prediction_tables
from .steps import MODELS, ImageInputs, common_folds, decode, evaluate_models, parse_models

__all__ = ["AUGMENTATIONS", "IMAGE_EXTENSIONS", "LAYOUTS", "MODELS", "SPEC_KEYS", "CNNConfig", "CNNPlan",
           "CNNSettings", "Heads", "ImageData", "ImageInputs", "ImageLayout", "ImageOptions", "PixelBatches",
           "SmallCNN", "batch_augmenter", "choose_channels", "cnn_fold", "common_folds", "decode", "decoded",
           "evaluate_models", "file_loader", "find_image_layout", "heads_of", "image_files", "image_summary",
           "layout_from_spec_file", "load", "load_weights", "measure_speed", "parse_augment", "parse_models",
           "pixel_features", "pixels_fold", "plot_results", "plot_samples", "prediction_tables", "read_image",
           "reserve_seconds", "save_weights", "tta_views"]
