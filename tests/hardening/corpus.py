"""The bad-input corpus: datasets, images and annotation files, generated deterministically.

Each case builds one file under a folder it is given (same bytes every time: fixed zip dates,
seeded pixels) and says what the portal must answer: refused with a reason located at `where`,
or (`where=None`) imported whole. Model files are in corpus_models.py, form values in
corpus_forms.py.
"""

from __future__ import annotations

import io
import json
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

DATE = (1980, 1, 1, 0, 0, 0)
Entries = list[tuple[str | zipfile.ZipInfo, bytes]]


@dataclass(frozen=True)
class Case:
    """One bad (or odd but valid) input and the answer it must get."""

    name: str
    build: Callable[[Path], Path]
    where: str | None  # text the located reason contains; None: imported whole
    fmt: str = "coco"
    settings: dict = field(default_factory=dict)
    size: tuple[int, int] | None = None  # for accepted images: the size the import must record
    either: bool = False  # an odd file a decoder may accept or refuse; both must be clean
    upload_name: str | None = None  # the name the browser sends, when no disk could hold it


# ---------------------------------------------------------------- bytes


def pixels(width: int, height: int, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)


def image_bytes(fmt: str, size=(32, 24), mode: str = "RGB", seed: int = 0, **options) -> bytes:
    """An image file in memory; `mode` converts seeded RGB noise (CMYK, I;16, P, 1, …)."""
    picture = PILImage.fromarray(pixels(*size, seed=seed)).convert(
        mode if mode not in ("I;16", "I") else "L"
    )
    if mode in ("I;16", "I"):
        picture = PILImage.fromarray(np.asarray(picture).astype(np.uint16) * 257)
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_jpeg(orientation: int, size=(32, 24)) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    return image_bytes("JPEG", size, exif=exif)


def zip_bytes(entries: Entries, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip with fixed dates, entries as given (ZipInfo for modes and flags)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are made on purpose
        for entry, data in entries:
            info = entry if isinstance(entry, zipfile.ZipInfo) else zipfile.ZipInfo(entry, DATE)
            if not isinstance(entry, zipfile.ZipInfo):
                info.compress_type = compression
                info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def special(name: str, mode: int, data: bytes = b"") -> tuple[zipfile.ZipInfo, bytes]:
    """An entry with a file mode of its own (symbolic link, FIFO, …)."""
    info = zipfile.ZipInfo(name, DATE)
    info.external_attr = mode << 16
    return info, data


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- the base datasets


IMAGES = {"images/a.jpg": (32, 24), "images/b.png": (20, 16)}


def coco_document(**changes) -> dict:
    document = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 32, "height": 24},
            {"id": 2, "file_name": "b.png", "width": 20, "height": 16},
        ],
        "categories": [{"id": 1, "name": "scratch"}, {"id": 2, "name": "dent"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 8]},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [1, 1, 5, 5]},
        ],
    }
    document.update(changes)
    return document


def base_images() -> Entries:
    return [
        ("images/a.jpg", image_bytes("JPEG", (32, 24), seed=1)),
        ("images/b.png", image_bytes("PNG", (20, 16), seed=2)),
    ]


def coco_entries(document: dict | str | bytes | None = None, images: Entries | None = None):
    if document is None:
        document = coco_document()
    if isinstance(document, dict):
        text = json.dumps(document, ensure_ascii=False).encode()
    else:
        text = document.encode() if isinstance(document, str) else document
    return [*(base_images() if images is None else images), ("annotations.json", text)]


def yolo_entries(labels: dict[str, bytes | str] | None = None, names: bytes | str | None = None):
    labels = {"a.txt": "0 0.5 0.5 0.25 0.5\n", "b.txt": "1 0.5 0.5 0.5 0.5\n"} | (labels or {})
    names = "names: [scratch, dent]\n" if names is None else names
    entries: Entries = [*base_images()]
    for name, text in labels.items():
        entries.append((f"labels/{name}", text.encode() if isinstance(text, str) else text))
    if names != b"":
        entries.append(("data.yaml", names.encode() if isinstance(names, str) else names))
    return entries


def zipped(name: str, entries: Callable[[], Entries], **options) -> Callable[[Path], Path]:
    return lambda folder: write(folder, name, zip_bytes(entries(), **options))


# ---------------------------------------------------------------- archives


def _patched(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new)


def _lying_sizes(folder: Path) -> Path:
    """An entry whose headers declare 100 bytes; it inflates to 600 000 (a bomb in disguise)."""
    data = zip_bytes([*coco_entries(), ("images/pad.txt", b"x" * 600_000)])
    size = struct.pack("<I", 600_000)
    return write(folder, "lying.zip", data.replace(size, struct.pack("<I", 100)))


def _bad_crc(folder: Path) -> Path:
    entries = coco_entries()
    data = zip_bytes(entries, compression=zipfile.ZIP_STORED)
    jpeg = entries[0][1]
    flipped = jpeg[:200] + bytes([jpeg[200] ^ 0xFF]) + jpeg[201:]
    return write(folder, "crc.zip", data.replace(jpeg, flipped))


def _unknown_method(folder: Path) -> Path:
    data = bytearray(zip_bytes(coco_entries(), compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = data.find(signature)
        while start >= 0:
            data[start + offset : start + offset + 2] = struct.pack("<H", 99)  # AES
            start = data.find(signature, start + 4)
    return write(folder, "method.zip", bytes(data))


def _encrypted_flag(folder: Path) -> Path:
    """An entry flagged as encrypted (zipfile clears the flag when writing: set in the bytes)."""
    data = bytearray(zip_bytes(coco_entries(), compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        data[start + offset] |= 0x1  # the first entry: images/a.jpg
    return write(folder, "encrypted.zip", bytes(data))


def _too_many(count: int) -> Entries:
    return [*coco_entries(), *((f"extra/{i:03d}.txt", b"x") for i in range(count))]


def _random_text(size: int) -> bytes:
    rng = np.random.default_rng(7)
    return bytes(rng.integers(97, 123, size=size, dtype=np.uint8))


def _coco_plus(name: str, where: str | None, *extra: tuple, **options) -> Case:
    """The COCO base dataset zipped as d.zip with extra entries (name or ZipInfo, bytes)."""
    return Case(name, zipped("d.zip", lambda: [*coco_entries(), *extra]), where, **options)


def _zip_of(
    name: str,
    where: str | None,
    entries: Callable[[], Entries],
    compression: int = zipfile.ZIP_DEFLATED,
    **options,
) -> Case:
    """A d.zip of these entries alone."""
    return Case(name, zipped("d.zip", entries, compression=compression), where, **options)


def _file(name: str, where: str, data: bytes) -> Case:
    """A file named d.zip holding these bytes, whatever they are."""
    return Case(name, lambda folder: write(folder, "d.zip", data), where)


def archive_cases(tmp: Path) -> list[Case]:
    """Zip archives that try to climb out, lie, explode or are not archives at all."""
    pwned, link, x = "pwned.txt", stat.S_IFLNK | 0o777, b"x"
    return [
        _coco_plus("dotdot", "../../pwned.txt", ("../../" + pwned, x)),
        _coco_plus("dotdot-deep", "climbs out", ("../" * 12 + pwned, x)),
        _coco_plus("dotdot-inside", "images/../../pwned.txt", ("images/../../" + pwned, x)),
        _coco_plus("dotdot-backslash", "..\\..\\pwned.txt", ("..\\..\\" + pwned, x)),
        _coco_plus("dotdot-folder", "climbs out", ("../", b"")),
        _coco_plus("absolute", "absolute path", (str(tmp / "abs-" / pwned), x)),
        _coco_plus("absolute-root", "absolute path", ("/" + pwned, x)),
        _coco_plus("drive-letter", "drive letter", ("C:/Windows/" + pwned, x)),
        _coco_plus("drive-backslash", "drive letter", ("C:\\" + pwned, x)),
        _coco_plus("symlink-file", "symbolic links", special("images/c.jpg", link, b"/etc/passwd")),
        _coco_plus(
            "symlink-folder-then-file",
            "symbolic links",
            special("link", link, str(tmp).encode()),
            ("link/" + pwned, x),
        ),
        _zip_of(
            "symlink-annotations",
            "symbolic links",
            lambda: [*base_images(), special("annotations.json", link, b"../../../etc/passwd")],
        ),
        _coco_plus("fifo", "special files", special("images/pipe", stat.S_IFIFO | 0o644)),
        _coco_plus("device", "special files", special("images/dev", stat.S_IFCHR | 0o644)),
        _coco_plus("zip-bomb", "zip bomb", ("images/bomb.jpg", bytes(8 * 1024 * 1024))),
        Case("zip-bomb-lying-header", _lying_sizes, "images/pad.txt"),
        _zip_of(
            "too-many-entries",
            "entries, more than the limit",
            lambda: _too_many(40),
            settings={"IMPORT_MAX_ENTRIES": 40},
        ),
        _coco_plus(
            "unpacks-too-large",
            "unpacks to",
            ("notes.txt", _random_text(600_000)),
            settings={"IMPORT_MAX_ARCHIVE_BYTES": 500_000},
        ),
        Case("encrypted-flag", _encrypted_flag, "encrypted"),
        _coco_plus("duplicate-entry", "duplicate entry", ("images/a.jpg", b"again")),
        _coco_plus("file-and-folder", "both a file and a folder", ("images/a.jpg/x.txt", x)),
        Case("bad-crc", _bad_crc, "images/a.jpg"),
        Case("unknown-compression", _unknown_method, "cannot extract"),
        _coco_plus(
            "long-entry-name", "a" * 40, ("images/" + "a" * 300 + ".jpg", image_bytes("JPEG"))
        ),
        _file("text-named-zip", "archive", b"PK but not really a zip\n"),
        _file("empty-file", "archive", b""),
        _file("truncated-zip", "archive", zip_bytes(coco_entries())[:300]),
        _file("gzip-named-zip", "archive", zlib.compress(b"x" * 100)),
        _zip_of("empty-zip", "d.zip", lambda: []),
        _zip_of("only-folders", "d.zip", lambda: [("images/", b""), ("labels/", b"")]),
        _zip_of("nested-zip", "d.zip", lambda: [("inner.zip", zip_bytes(coco_entries()))]),
        _zip_of("no-annotation-file", "d.zip", base_images),
        # Odd but valid: imported whole.
        _coco_plus(
            "macos-junk", None, ("__MACOSX/._a.jpg", b"\x00junk"), ("images/.DS_Store", b"junk")
        ),
        _zip_of("wrapped-in-a-folder", None, lambda: [(f"批次/{n}", d) for n, d in coco_entries()]),
        _zip_of("stored-not-deflated", None, coco_entries, compression=zipfile.ZIP_STORED),
        Case("gbk-names", lambda f: write(f, "d.zip", _gbk_zip()), None),
        _coco_plus("entry-name-over-255-bytes", "255 bytes", ("images/" + "划" * 90 + ".jpg", x)),
        # 364 bytes of UTF-8: no file system holds the name; the upload is stored shortened.
        _zip_of("upload-name-120-chinese", None, coco_entries, upload_name="划" * 120 + ".zip"),
    ]


def _gbk_zip() -> bytes:
    """An image name written in GBK without the UTF-8 flag, as Windows in a Chinese locale does."""
    document = coco_document(
        images=[{"id": 1, "file_name": "划痕.jpg", "width": 32, "height": 24}],
        annotations=[{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 8]}],
    )
    gbk = "images/划痕.jpg".encode("gb18030")
    placeholder = b"images/XXXX.jpg"
    assert len(gbk) == len(placeholder)
    entries = [
        (placeholder.decode(), image_bytes("JPEG", seed=1)),
        ("annotations.json", json.dumps(document, ensure_ascii=False).encode()),
    ]
    return zip_bytes(entries).replace(placeholder, gbk)


# ---------------------------------------------------------------- images


def _with_image(name: str, data: Callable[[], bytes], declared=(32, 24)) -> Callable[[Path], Path]:
    """The COCO base dataset with its first image replaced by this file (made when built)."""

    def entries() -> Entries:
        document = coco_document()
        document["images"][0].update(file_name=name, width=declared[0], height=declared[1])
        return coco_entries(document, [(f"images/{name}", data()), base_images()[1]])

    return zipped("images.zip", entries)


def _truncated(fmt: str) -> bytes:
    data = image_bytes(fmt, (64, 48))
    return data[: len(data) * 6 // 10]


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims the size; its one row of data is all it has."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(image_bytes("JPEG", (16, 16)))
    start = data.find(b"\xff\xc0")
    data[start + 5 : start + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(image_bytes("GIF", (8, 8), mode="P"))
    data[6:10] = struct.pack("<HH", width, height)
    descriptor = data.find(b"\x2c")
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(image_bytes("BMP", (8, 8)))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _broken_exif() -> bytes:
    data = bytearray(exif_jpeg(6))
    start = data.find(b"Exif\x00\x00")
    data[start + 10 : start + 30] = b"\xff" * 20  # the IFD offsets now point nowhere
    return bytes(data)


def _image_case(
    name: str, file: str, data: Callable[[], bytes], where: str = "", **options
) -> Case:
    """The COCO base dataset with images/<file> made by `data`; refused at that image unless
    `where` says otherwise (None: imported whole)."""
    declared = options.pop("declared", (32, 24))
    where = f"images/{file}" if where == "" else where
    return Case(name, _with_image(file, data, declared), where, **options)


IMAGE_FORMATS = {
    "JPEG": "jpg",
    "PNG": "png",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
    "GIF": "gif",
}
# Unusual but valid images, imported at the size they are shown: (case, file, format, options).
VALID_IMAGES = [
    ("cmyk-jpeg", "c.jpg", "JPEG", {"mode": "CMYK"}),
    ("cmyk-tiff", "c.tif", "TIFF", {"mode": "CMYK"}),
    ("16-bit-png", "c.png", "PNG", {"mode": "I;16"}),
    ("16-bit-tiff", "c.tif", "TIFF", {"mode": "I;16"}),
    ("grey-png", "c.png", "PNG", {"mode": "L"}),
    ("rgba-png", "c.png", "PNG", {"mode": "RGBA"}),
    ("palette-png", "c.png", "PNG", {"mode": "P"}),
    ("1-bit-png", "c.png", "PNG", {"mode": "1"}),
    ("progressive-jpeg", "c.jpg", "JPEG", {"progressive": True}),
]


def _broken_files(fmt: str, suffix: str) -> list[Case]:
    """Empty, truncated, text and garbage-tailed files of one image format."""
    name = f"c.{suffix}"
    mode = "P" if fmt == "GIF" else "RGB"
    return [
        _image_case(f"empty-{suffix}", name, lambda: b""),
        _image_case(
            f"truncated-{suffix}",
            name,
            lambda: _truncated(fmt),
            either=fmt in ("GIF", "BMP", "TIFF"),
        ),
        _image_case(f"text-named-{suffix}", name, lambda: b"this is not an image\n"),
        _image_case(
            f"garbage-tail-{suffix}",
            name,
            lambda: image_bytes(fmt, mode=mode) + b"\x00" * 4096,
            None,
            either=True,
        ),
    ]


def image_cases() -> list[Case]:
    """Image files that are broken, lie about their size, or are unusual but valid."""
    cases = [case for fmt, suffix in IMAGE_FORMATS.items() for case in _broken_files(fmt, suffix)]
    bomb = "decompression bomb"
    cases += [
        _image_case("html-named-png", "c.png", lambda: b"<html><script>alert(1)</script>"),
        _image_case("svg-named-jpg", "c.jpg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        _image_case("pdf-named-jpg", "c.jpg", lambda: b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"),
        _image_case(
            "postscript-named-jpg",
            "c.jpg",
            lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
        ),
        _image_case("zip-named-png", "c.png", lambda: zip_bytes([("a", b"b")])),
        _image_case("pixel-bomb-png", "c.png", lambda: _png_header(40000, 40000), bomb),
        _image_case("pixel-bomb-png-just-over", "c.png", lambda: _png_header(10000, 10000), bomb),
        _image_case("pixel-bomb-jpeg", "c.jpg", lambda: _jpeg_claiming(65000, 65000), bomb),
        _image_case("pixel-bomb-gif", "c.gif", lambda: _gif_claiming(65535, 65535), bomb),
        _image_case("pixel-bomb-bmp", "c.bmp", lambda: _bmp_claiming(60000, 60000)),
        _image_case("zero-width-png", "c.png", lambda: _png_header(0, 10)),
        _image_case("png-header-only", "c.png", lambda: _png_header(32, 24)),
    ]
    cases += [
        _image_case(name, file, lambda f=fmt, o=options: image_bytes(f, **o), None, size=(32, 24))
        for name, file, fmt, options in VALID_IMAGES
    ]
    cases += [
        _image_case("broken-exif", "c.jpg", _broken_exif, None, either=True),
        _image_case(
            "declared-size-wrong",
            "c.jpg",
            lambda: image_bytes("JPEG"),
            None,
            declared=(99, 77),
            size=(32, 24),
        ),
    ]
    for orientation in range(1, 9):
        shown = (24, 32) if orientation in (5, 6, 7, 8) else (32, 24)
        cases.append(
            _image_case(
                f"exif-orientation-{orientation}",
                "c.jpg",
                lambda o=orientation: exif_jpeg(o),
                None,
                declared=shown,
                size=shown,
            )
        )
    return cases
