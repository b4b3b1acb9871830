"""Listing a dataset folder's files, skipping what operating systems leave behind."""

from __future__ import annotations

import os
from pathlib import Path

_JUNK_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_JUNK_DIRS = {"__MACOSX", ".git"}
_PARTS = {"images", "labels", "annotations"}  # folders of a dataset, never a wrapper of one


def is_junk(name: str) -> bool:
    """True for files such as .DS_Store and macOS '._' resource forks."""
    return name in _JUNK_FILES or name.startswith("._")


def dataset_files(folder: Path) -> list[Path]:
    """Every file under folder, sorted, without following linked folders."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _JUNK_DIRS)
        found.extend(Path(dirpath, name) for name in filenames if not is_junk(name))
    return sorted(found)


def dataset_root(folder: Path) -> Path:
    """Descend through folders that hold nothing but one folder (zips often wrap the dataset)."""
    for _ in range(8):
        children = [
            child
            for child in folder.iterdir()
            if not is_junk(child.name) and child.name not in _JUNK_DIRS
        ]
        if len(children) != 1 or not children[0].is_dir() or children[0].is_symlink():
            break
        if children[0].name.lower() in _PARTS:
            break
        folder = children[0]
    return folder
