"""An uploaded dataset archive as a file on disk, for as long as its import runs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile

from projects.cleaning import shorten_file_name


@contextmanager
def uploaded_archive(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file on disk, named as the user named it (reports cite that name).

    A name too long for the file system (255 bytes: 85 Chinese characters) is shortened.
    """
    folder = Path(tempfile.mkdtemp(prefix="dataset-upload-"))
    try:
        name = Path(upload.name or "dataset.zip").name
        path = folder / shorten_file_name(name, default="dataset.zip")
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
