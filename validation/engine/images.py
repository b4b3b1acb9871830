"""Image decoding (Pillow, EXIF orientation, RGB/BGR, aspect-keeping resize) and batch layout.

Pillow opens every image and reads its size and EXIF orientation. RGB and greyscale JPEGs are
then decoded by libjpeg-turbo through simplejpeg, scaled in the DCT by the smallest of its
M/8 factors that keeps the image at least the model's size (Pillow offers only 1/2, 1/4 and
1/8, so a 500 px photo for a 320 px model would be decoded whole); anything simplejpeg refuses,
and every other format, is decoded by Pillow. Orientation and the conversion of every Pillow
mode to RGB come from the top-level `imaging` package, through which the pages' crops and
thumbnails decode too: they show the pixels the model saw.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simplejpeg
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from imaging import SWAPS_SIDES, exif_orientation, to_rgb

PAD_VALUE = 114
# What imaging.TRANSPOSE (ImageOps.exif_transpose) does for each orientation, on a (3, h, w) array.
ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, :, ::-1],  # mirror left-right
    3: lambda a: a[:, ::-1, ::-1],  # rotate 180
    4: lambda a: a[:, ::-1, :],  # mirror top-bottom
    5: lambda a: a.transpose(0, 2, 1),  # transpose
    6: lambda a: np.rot90(a, -1, axes=(1, 2)),  # rotate 90 clockwise
    7: lambda a: a.transpose(0, 2, 1)[:, ::-1, ::-1],  # transverse
    8: lambda a: np.rot90(a, 1, axes=(1, 2)),  # rotate 90 anticlockwise
}


class ImageSkipped(Exception):
    """An image that cannot be used; str() is the reason shown to the user."""


@dataclass
class DecodedImage:
    """One image resized for the model (not yet padded), with its original size."""

    pixels: np.ndarray  # (3, new_h, new_w) uint8, channels in the model's order
    width: int  # original width after EXIF orientation
    height: int


@dataclass(frozen=True)
class Placement:
    """Where an image sits on the model's input canvas, to map boxes back."""

    width: int
    height: int
    new_w: int
    new_h: int
    pad_x: int
    pad_y: int

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Map (n, 4) canvas boxes x1 y1 x2 y2 back to original pixels, clipped to the image."""
        out = boxes.astype(np.float32, copy=True)
        out[:, 0::2] = (out[:, 0::2] - self.pad_x) * (self.width / self.new_w)
        out[:, 1::2] = (out[:, 1::2] - self.pad_y) * (self.height / self.new_h)
        np.clip(out[:, 0::2], 0, self.width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, self.height, out=out[:, 1::2])
        return out


def fitted_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest (w, h) with the image's aspect ratio that fits box_w × box_h (at least 1 px)."""
    ratio = min(box_w / width, box_h / height)
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def decode_image(path: str, box_w: int, box_h: int, channel_order: str) -> DecodedImage:
    """Open, orient, convert and resize one image to fit box_w × box_h; raise ImageSkipped."""
    try:
        if os.path.getsize(path) == 0:
            raise ImageSkipped("empty file")
        with Image.open(path) as img:
            return _decode_open(img, path, box_w, box_h, channel_order)
    except ImageSkipped:
        raise
    except FileNotFoundError as exc:
        raise ImageSkipped("file not found") from exc
    except Image.DecompressionBombError as exc:
        raise ImageSkipped(f"image too large (decompression bomb protection): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageSkipped("not an image, or an unsupported image format") from exc
    except OSError as exc:
        if exc.errno is not None:  # the file system's error, not the decoder's
            raise ImageSkipped(f"cannot read the file ({exc.strerror})") from exc
        raise ImageSkipped(_decoder_reason(exc)) from exc
    except Exception as exc:  # crafted files make Pillow raise almost anything
        raise ImageSkipped(_decoder_reason(exc)) from exc


def _decoder_reason(exc: BaseException) -> str:
    """A reason for an image the decoder refused."""
    text = str(exc) or type(exc).__name__
    if "truncated" in text:
        return "truncated image file"
    return f"corrupt image: {text}"


def _decode_open(
    img: Image.Image, path: str, box_w: int, box_h: int, channel_order: str
) -> DecodedImage:
    """Decode an opened image; JPEGs are decoded at a reduced scale when larger than needed."""
    orientation = exif_orientation(img)
    orient = ORIENT.get(orientation) if orientation is not None else None
    swapped = orientation in SWAPS_SIDES
    stored_w, stored_h = img.size
    if stored_w < 1 or stored_h < 1:
        raise ImageSkipped("empty image (0 pixels)")
    width, height = (stored_h, stored_w) if swapped else (stored_w, stored_h)
    new_w, new_h = fitted_size(width, height, box_w, box_h)
    # Resize in stored orientation, then orient the small image (same result, less work).
    target = (new_h, new_w) if swapped else (new_w, new_h)
    hwc = _scaled_jpeg(img, path, target)
    if hwc is None:
        img.draft("RGB", target)  # JPEG only: DCT scaling by 1/2, 1/4 or 1/8, still >= target
        img.load()
        hwc = np.array(to_rgb(img), dtype=np.uint8)
    pixels = _resized_chw(hwc, target)
    if orient is not None:
        pixels = orient(pixels)
    if channel_order == "BGR":
        pixels = pixels[::-1]
    # Channel-first and contiguous here, in the decode thread: the main thread only pastes.
    return DecodedImage(np.ascontiguousarray(pixels), width, height)


def _scaled_jpeg(img: Image.Image, path: str, size: tuple[int, int]) -> np.ndarray | None:
    """(h, w, 3) RGB of an RGB or greyscale JPEG, DCT-scaled to at least size; else None.

    None also when libjpeg-turbo refuses the file or warns about it (strict): Pillow then
    decodes it, or gives the reason shown for a broken file.
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L"):
        return None
    with open(path, "rb") as file:  # Pillow would read it all as well
        data = file.read()
    try:
        return simplejpeg.decode_jpeg(
            data, colorspace="RGB", min_width=size[0], min_height=size[1], strict=True
        )
    except ValueError:
        return None


def _resized_chw(hwc: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 → (3, size_h, size_w) uint8 view, bilinear with antialiasing.

    torch's uint8 channels-last kernel gives Pillow's BILINEAR result (within one level) in
    about half the time, and runs without the GIL.
    """
    w, h = size
    chw = torch.from_numpy(hwc).permute(2, 0, 1)
    if (hwc.shape[1], hwc.shape[0]) == (w, h):
        return chw.numpy()
    out = F.interpolate(chw[None], size=(h, w), mode="bilinear", antialias=True)
    return out[0].numpy()


def canvas_shape(
    decoded: list[DecodedImage], fixed_hw: tuple[int, int] | None, stride: int
) -> tuple[int, int]:
    """(h, w) of a batch: the fixed/letterbox canvas, or the largest image padded to the stride."""
    if fixed_hw is not None:
        return fixed_hw
    h = max(d.pixels.shape[1] for d in decoded)
    w = max(d.pixels.shape[2] for d in decoded)
    return math.ceil(h / stride) * stride, math.ceil(w / stride) * stride


def layout_batch(
    decoded: list[DecodedImage], canvas_hw: tuple[int, int], centred: bool
) -> tuple[np.ndarray, list[Placement]]:
    """Paste images on a (B, 3, H, W) uint8 canvas filled with 114: centred or top-left."""
    canvas_h, canvas_w = canvas_hw
    batch = np.full((len(decoded), 3, canvas_h, canvas_w), PAD_VALUE, dtype=np.uint8)
    placements = []
    for i, item in enumerate(decoded):
        new_h, new_w = item.pixels.shape[1:]
        pad_x = (canvas_w - new_w) // 2 if centred else 0
        pad_y = (canvas_h - new_h) // 2 if centred else 0
        batch[i, :, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = item.pixels
        placements.append(Placement(item.width, item.height, new_w, new_h, pad_x, pad_y))
    return batch, placements
