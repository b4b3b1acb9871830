"""Smaller pieces: metadata parsing, output decoding rules, image modes, OOM recognition."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imaging import open_rgb
from tests.imaging import samples
from validation.engine import ModelSpec, OutputContractError
from validation.engine import images as images_module
from validation.engine.forward import is_out_of_memory
from validation.engine.images import ImageSkipped, decode_image, fitted_size
from validation.engine.metadata import (
    image_shape_from,
    label_names_from,
    parse_metadata_text,
)
from validation.engine.outputs import DecodeOptions, decode, detect_format

REPO = Path(__file__).resolve().parents[2]


def test_engine_does_not_import_django():
    code = "import validation.engine, sys; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_metadata_json_python_literal_and_yaml_lines():
    assert parse_metadata_text('{"names": {"0": "a", "1": "b"}, "stride": 32}') == {
        "names": {"0": "a", "1": "b"},
        "stride": 32,
    }
    assert label_names_from(parse_metadata_text("{'names': {0: 'a', 1: 'b'}, 'imgsz': [320, 640]}"))
    assert image_shape_from(parse_metadata_text("{'imgsz': [320, 640]}")) == (320, 640)
    yaml_ish = "stride: 32\nimgsz: [640, 640]\nnames: {0: 'scratch', 1: 'dent'}\ntask: detect\n"
    meta = parse_metadata_text(yaml_ish)
    assert meta["stride"] == 32 and meta["task"] == "detect"
    assert label_names_from(meta) == ("scratch", "dent")


def test_metadata_code_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    assert parse_metadata_text(text) == {}
    assert not marker.exists()
    assert parse_metadata_text(b"\xff\xfe garbage") == {}


def test_names_with_gaps_are_not_guessed():
    assert label_names_from({"names": {"0": "a", "2": "c"}}) == ()
    assert label_names_from({"names": ["a", "b"]}) == ("a", "b")


def test_spec_validates_choices_and_fills_empty_normalisation():
    model_spec = ModelSpec("m.pt2", "auto", ["a"], mean=[], std=[])
    assert model_spec.mean == (0.0, 0.0, 0.0) and model_spec.std == (1.0, 1.0, 1.0)
    assert model_spec.label_names == ("a",)
    with pytest.raises(ValueError, match="output format"):
        ModelSpec("m.pt2", "auto", (), output_format="onnx")


def test_square_six_by_six_output_is_ambiguous():
    with pytest.raises(OutputContractError, match="set the output format explicitly"):
        detect_format(torch.zeros(1, 6, 6), 1)


def test_single_n_by_6_tensor_for_batch_one():
    out = torch.tensor([[1.0, 2.0, 3.0, 4.0, 0.5, 1.0]])
    assert detect_format(out, 1) == "nx6"
    ((boxes, scores, labels),) = decode(out, "nx6", 1, DecodeOptions(num_classes=2))
    assert boxes.tolist() == [[1.0, 2.0, 3.0, 4.0]] and labels.tolist() == [1]


def test_nx6_list_of_wrong_length_says_what_came():
    out = [torch.zeros(3, 6)]
    with pytest.raises(OutputContractError, match=r"batch of 2, got list\(Tensor\[3×6\]"):
        decode(out, "nx6", 2, DecodeOptions())


def test_non_integer_class_column_is_refused():
    out = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 1.0, 0.73]]])
    with pytest.raises(OutputContractError, match="non-integer class values"):
        decode(out, "nx6", 1, DecodeOptions())


def test_torchvision_dict_missing_a_key():
    out = [{"boxes": torch.zeros(1, 4), "scores": torch.ones(1)}]
    with pytest.raises(OutputContractError, match="image 0 lacks a tensor key"):
        decode(out, "torchvision", 1, DecodeOptions())


def test_infinite_yolo_scores_are_refused():
    head = torch.zeros(1, 6, 10)
    head[0, 5, 3] = float("inf")
    with pytest.raises(OutputContractError, match="infinite scores"):
        decode(head, "yolo", 1, DecodeOptions())


def test_yolo_cap_keeps_the_best_per_image():
    head = torch.zeros(1, 5, 50)
    head[0, 0] = torch.arange(50) * 10.0  # separate boxes, no NMS overlap
    head[0, 2:4] = 5.0
    head[0, 4] = torch.linspace(0.01, 0.5, 50)
    ((boxes, scores, _),) = decode(head, "yolo", 1, DecodeOptions(max_per_image=5))
    assert scores.tolist() == pytest.approx(torch.linspace(0.01, 0.5, 50)[-5:].flip(0).tolist())


def test_out_of_memory_errors_are_recognised():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"))
    assert not is_out_of_memory(RuntimeError("size mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


@pytest.mark.parametrize("mode", ["L", "I;16", "P", "RGBA", "CMYK", "1"])
def test_any_image_mode_becomes_rgb(tmp_path, mode):
    grey = np.zeros((20, 30), dtype=np.uint16 if mode == "I;16" else np.uint8)
    grey[5:10, 5:15] = 65535 if mode == "I;16" else 255
    img = Image.fromarray(grey) if mode == "I;16" else Image.fromarray(grey).convert(mode)
    assert img.mode == mode
    path = tmp_path / ("img.tiff" if mode in ("I;16", "CMYK") else "img.png")
    img.save(path)
    decoded = decode_image(str(path), 60, 60, "RGB")
    assert decoded.pixels.shape == (3, 40, 60)
    assert (decoded.width, decoded.height) == (30, 20)
    if mode != "CMYK":
        assert decoded.pixels[:, 15, 20].tolist() == [255, 255, 255]
        assert decoded.pixels[:, 35, 50].tolist() == [0, 0, 0]


SAME_PIXEL_FILES = {
    **{
        f"png-orientation-{o}": ("png", lambda o=o: samples.turned_bytes(o, "PNG"))
        for o in range(2, 9)
    },
    "jpeg-orientation-6": ("jpg", lambda: samples.turned_bytes(6)),
    "jpeg-orientation-8": ("jpg", lambda: samples.turned_bytes(8)),
    "png-16-bit": ("png", lambda: samples.sixteen_bit_bytes("PNG")),
    "tiff-16-bit": ("tiff", lambda: samples.sixteen_bit_bytes("TIFF")),
    **{
        f"mode-{m}": ("jpg" if m == "CMYK" else "img", lambda m=m: samples.mode_bytes(m))
        for m in ("CMYK", "P-transparent", "LA", "RGBA", "I", "F")
    },
}


@pytest.mark.parametrize("name", sorted(SAME_PIXEL_FILES))
def test_the_engine_sees_the_pixels_the_pages_show(tmp_path, name):
    """At full size, the engine's decode equals the imaging loader behind crops and thumbnails."""
    suffix, build = SAME_PIXEL_FILES[name]
    path = samples.write(tmp_path, f"image.{suffix}", build())
    shown = np.asarray(open_rgb(path)).transpose(2, 0, 1).astype(int)
    decoded = decode_image(str(path), samples.WIDTH, samples.HEIGHT, "RGB")
    assert (decoded.width, decoded.height) == (samples.WIDTH, samples.HEIGHT)
    assert decoded.pixels.shape == shown.shape
    # simplejpeg and Pillow both decode with libjpeg-turbo; other formats decode alike exactly
    tolerance = 2 if suffix == "jpg" and name != "mode-CMYK" else 0
    assert np.abs(decoded.pixels.astype(int) - shown).max() <= tolerance


def test_sixteen_bit_greyscale_reaches_the_model_scaled_not_white(tmp_path):
    path = samples.write(tmp_path, "grey16.png", samples.sixteen_bit_bytes("PNG", 10000, 50000))
    decoded = decode_image(str(path), samples.WIDTH, samples.HEIGHT, "RGB")
    assert decoded.pixels[:, 0, 0].tolist() == [38, 38, 38]
    assert decoded.pixels[:, 0, -1].tolist() == [194, 194, 194]


def test_directory_instead_of_file_is_skipped(tmp_path):
    with pytest.raises(ImageSkipped, match=r"^cannot read the file \(Is a directory\)$"):
        decode_image(str(tmp_path), 64, 64, "RGB")


def photo_like(width: int, height: int) -> np.ndarray:
    """A smooth colour gradient with a few sharp rectangles, (height, width, 3) uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=2)
    for k in range(4):
        x0, y0 = width * (k + 1) // 6, height * (k + 1) // 7
        rgb[y0 : y0 + height // 8, x0 : x0 + width // 9] = (40 * k, 255 - 50 * k, 90)
    return rgb.astype(np.uint8)


def pillow_reference(path: Path, box: int) -> np.ndarray:
    """Whole decode, then Pillow's bilinear resize: (3, h, w), what the fast path must match."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        size = fitted_size(*rgb.size, box, box)
        return np.asarray(rgb.resize(size, Image.Resampling.BILINEAR)).transpose(2, 0, 1)


@pytest.fixture
def jpeg_calls(monkeypatch):
    """The shapes simplejpeg returned during the test (its scaled decode was used for these)."""
    shapes: list[tuple[int, ...]] = []
    real = images_module.simplejpeg.decode_jpeg

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        shapes.append(out.shape)
        return out

    monkeypatch.setattr(images_module.simplejpeg, "decode_jpeg", spy)
    return shapes


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_is_dct_scaled_to_just_above_the_model_size(tmp_path, jpeg_calls, progressive):
    path = tmp_path / "photo.jpg"
    Image.fromarray(photo_like(1000, 800)).save(path, quality=92, progressive=progressive)
    decoded = decode_image(str(path), 320, 320, "RGB")
    # 3/8 is the smallest libjpeg-turbo scale that keeps 1000 × 800 at least 320 × 256; Pillow's
    # draft() would only go to 1/2 (500 × 400).
    assert jpeg_calls == [(300, 375, 3)]
    assert decoded.pixels.shape == (3, 256, 320)
    assert (decoded.width, decoded.height) == (1000, 800)
    diff = np.abs(decoded.pixels.astype(int) - pillow_reference(path, 320))
    assert diff.mean() < 2.0, diff.mean()


def test_greyscale_jpeg_takes_the_scaled_path(tmp_path, jpeg_calls):
    path = tmp_path / "grey.jpg"
    Image.fromarray(photo_like(640, 480)).convert("L").save(path, quality=92)
    decoded = decode_image(str(path), 320, 320, "BGR")
    assert jpeg_calls == [(240, 320, 3)]
    assert decoded.pixels.shape == (3, 240, 320)
    assert (decoded.pixels[0] == decoded.pixels[1]).all()
    assert (decoded.pixels[1] == decoded.pixels[2]).all()
    assert np.abs(decoded.pixels.astype(int) - pillow_reference(path, 320)).mean() < 2.0


def test_cmyk_jpeg_is_left_to_pillow(tmp_path, jpeg_calls):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(photo_like(300, 200)).convert("CMYK").save(path, quality=95)
    decoded = decode_image(str(path), 150, 150, "RGB")
    assert jpeg_calls == []
    assert decoded.pixels.shape == (3, 100, 150)
    assert np.abs(decoded.pixels.astype(int) - pillow_reference(path, 150)).mean() < 2.0


def test_truncated_jpeg_keeps_pillows_reason(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(photo_like(400, 300)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ImageSkipped, match=r"^truncated image file$"):
        decode_image(str(path), 320, 320, "RGB")


FREED_MEMORY_CODE = """
import resource, sys
import numpy as np
from validation.engine.memory import keep_freed_memory
if sys.argv[1] == "on":
    assert keep_freed_memory()
def batch():  # like a forward: large blocks allocated, then all freed
    arrays = [np.ones(6 << 20, np.uint8) for _ in range(8)]
    del arrays
batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    batch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc malloc settings")
def test_keep_freed_memory_lets_the_next_batch_reuse_the_pages():
    def faults(setting: str) -> int:
        run = [sys.executable, "-c", FREED_MEMORY_CODE, setting]
        return int(subprocess.run(run, cwd=REPO, check=True, capture_output=True).stdout)

    # 480 MiB allocated and freed again: by default glibc gives much of it back to the kernel
    # (about 160 MiB of page faults here), with the settings none.
    assert faults("off") > 20_000
    assert faults("on") < 1000
