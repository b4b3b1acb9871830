"""Dataset import (COCO, YOLO; folder or zip) and export (COCO)."""

from projects.datasets.exporter import copy_images, export_coco
from projects.datasets.importer import FORMATS, import_dataset, import_upload
from projects.datasets.report import ImportReport, Problem

__all__ = [
    "FORMATS",
    "ImportReport",
    "Problem",
    "copy_images",
    "export_coco",
    "import_dataset",
    "import_upload",
]
