"""run_inference: skipped images, out-of-memory halving, cancel, floor, cap, order, progress."""

from __future__ import annotations

import engine_models as em
import numpy as np
import pytest
import torch
from engine_models import ROWS, spec
from PIL import Image

from validation.engine import (
    Cancelled,
    EngineError,
    OutOfMemoryAtBatchOne,
    OutputContractError,
    run_inference,
)


def many_images(tmp_path, count: int) -> list[tuple[str, str]]:
    """Images whose green level (the bright-box score) differs, so order mistakes show."""
    images = []
    for i in range(count):
        green = 130 + 9 * ((i * 3) % count)
        path = em.rect_image(
            tmp_path / f"img{i}.png",
            (160 + 10 * i, 120),
            (5 + i, 10, 60 + 2 * i, 90),
            (255, green, 255 * (i % 2)),
        )
        images.append((str(path), path.name))
    return images


def run_nx6(models, images, **kwargs):
    """The bright-box N×6 model on a 64 px letterbox, batches of 2, on the CPU."""
    return run_inference(
        spec(models["nx6_export"]), images, device="cpu", batch_size=2, image_size=64, **kwargs
    )


def same(a, b) -> None:
    for field in ("boxes", "scores", "labels", "offsets", "image_sizes"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.skipped == b.skipped


def test_result_arrays_have_the_documented_types(models, tmp_path):
    images = many_images(tmp_path, 3)
    result = run_inference(
        spec(models["nx6_export"]), images, device="cpu", batch_size=2, image_size=64
    )
    assert result.boxes.dtype == np.float32 and result.boxes.shape == (3, 4)
    assert result.scores.dtype == np.float32 and result.labels.dtype == np.int32
    assert result.offsets.dtype == np.int64 and result.offsets.tolist() == [0, 1, 2, 3]
    assert result.image_sizes.dtype == np.int32 and result.image_sizes.shape == (3, 2)
    assert {"load", "preprocess", "model", "postprocess", "decode_cpu", "total"} <= set(
        result.timing
    )


def test_broken_images_are_skipped_with_reasons(models, tmp_path, monkeypatch):
    good = many_images(tmp_path, 2)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    truncated = em.rect_image(tmp_path / "cut.jpg", (200, 200), (10, 10, 90, 90))
    truncated.write_bytes(truncated.read_bytes()[:400])
    huge = em.rect_image(tmp_path / "huge.png", (300, 300), (10, 10, 90, 90))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 // 3)
    images = [
        good[0],
        (str(tmp_path / "gone.jpg"), "gone.jpg"),
        (str(empty), "empty.jpg"),
        (str(text), "notes.jpg"),
        (str(truncated), "cut.jpg"),
        (str(huge), "huge.png"),
        good[1],
    ]
    result = run_inference(
        spec(models["nx6_export"]), images, device="cpu", batch_size=3, image_size=64
    )
    reasons = {name: reason for _, name, reason in result.skipped}
    assert [index for index, _, _ in result.skipped] == [1, 2, 3, 4, 5]
    assert reasons["gone.jpg"] == "file not found"
    assert reasons["empty.jpg"] == "empty file"
    assert reasons["notes.jpg"] == "not an image, or an unsupported image format"
    assert "truncated" in reasons["cut.jpg"] or "corrupt" in reasons["cut.jpg"]
    assert reasons["huge.png"].startswith("image too large")
    assert result.offsets.tolist() == [0, 1, 1, 1, 1, 1, 1, 2]
    assert result.image_sizes[1:6].tolist() == [[0, 0]] * 5
    assert result.image_sizes[6].tolist() == [170, 120]


def test_batch_of_only_broken_images_continues(models, tmp_path):
    good = many_images(tmp_path, 1)
    images = [("/nowhere/a.jpg", "a.jpg"), ("/nowhere/b.jpg", "b.jpg"), good[0]]
    result = run_inference(
        spec(models["nx6_export"]), images, device="cpu", batch_size=2, image_size=64
    )
    assert result.offsets.tolist() == [0, 0, 0, 1]


def test_out_of_memory_halves_the_batch_and_gives_the_same_predictions(models, tmp_path):
    images = many_images(tmp_path, 7)
    normal = run_inference(
        spec(models["nx6_script"]), images, device="cpu", batch_size=8, image_size=96
    )
    halved = run_inference(
        spec(models["oom_batch_script"]), images, device="cpu", batch_size=8, image_size=96
    )
    assert normal.final_batch_size == 8
    assert halved.final_batch_size == 2
    same(normal, halved)


def test_out_of_memory_at_batch_one_fails_with_the_message(models, tmp_path):
    images = many_images(tmp_path, 2)
    with pytest.raises(OutOfMemoryAtBatchOne, match=r"^out of memory at batch size 1 on cpu$"):
        run_inference(
            spec(models["oom_pixels_script"]), images, device="cpu", batch_size=4, image_size=256
        )


def test_cancel_between_batches(models, tmp_path):
    images = many_images(tmp_path, 5)
    progress = []
    with pytest.raises(Cancelled):
        run_nx6(
            models,
            images,
            on_progress=lambda done, total: progress.append((done, total)),
            should_stop=lambda: len(progress) >= 2,
        )
    assert progress == [(2, 5), (4, 5)]


def test_progress_reports_every_batch(models, tmp_path):
    images = many_images(tmp_path, 5)
    progress = []
    run_inference(
        spec(models["nx6_export"]),
        images,
        device="cpu",
        batch_size=2,
        image_size=64,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_predictions_follow_input_order_across_batches(models, tmp_path):
    images = many_images(tmp_path, 7)
    together = run_inference(
        spec(models["nx6_export"]),
        images,
        device="cpu",
        batch_size=7,
        image_size=64,
        decode_threads=1,
    )
    one_by_one = [
        run_inference(
            spec(models["nx6_export"]), [image], device="cpu", batch_size=1, image_size=64
        )
        for image in images
    ]
    assert together.scores.tolist() == [r.scores[0] for r in one_by_one]
    assert together.scores.tolist() != sorted(together.scores.tolist())  # not trivially sorted


def test_score_floor_cap_and_stable_order(models, tmp_path):
    images = many_images(tmp_path, 2)
    model_spec = spec(models["rows_export"], input_size=64)
    result = run_inference(
        model_spec, images, device="cpu", batch_size=2, image_size=64, max_per_image=3
    )
    assert result.offsets.tolist() == [0, 3, 6]
    # Rows: 0.9, 0.0005 (under the floor), 0.5, 0.5, 0.3, 0.5, padding. Ties keep model order.
    emitted_x1 = [ROWS[i][0] for i in (0, 2, 3)]
    scale = 160 / 64  # first image is 160×120 on a 64 letterbox
    np.testing.assert_allclose(result.boxes[:3, 0], np.array(emitted_x1) * scale, rtol=1e-5)
    assert result.scores[:3] == pytest.approx([0.9, 0.5, 0.5])
    assert result.labels[:3].tolist() == [0, 1, 0]

    floor = run_inference(
        model_spec, images[:1], device="cpu", batch_size=1, image_size=64, score_floor=0.0001
    )
    assert floor.scores == pytest.approx([0.9, 0.5, 0.5, 0.5, 0.3, 0.0005])
    high = run_inference(
        model_spec, images[:1], device="cpu", batch_size=1, image_size=64, score_floor=0.6
    )
    assert high.scores == pytest.approx([0.9])


def test_nan_output_on_the_first_batch_is_a_contract_error(models, tmp_path):
    images = many_images(tmp_path, 2)
    with pytest.raises(OutputContractError, match="returned NaN boxes"):
        run_inference(spec(models["nan_script"]), images, device="cpu", batch_size=2, image_size=64)


# 8 images in 3 lanes: the failing first batch stops the run while the other lanes work.
@pytest.mark.parametrize(("count", "lanes"), [(2, None), (8, 3)])
def test_class_index_out_of_range_is_a_contract_error(models, tmp_path, count, lanes):
    images = many_images(tmp_path, count)  # image 1 has blue, so the model says class 1
    with pytest.raises(OutputContractError, match=r"class index 1, outside its 1 labels \(0..0\)"):
        run_inference(
            spec(models["nx6_export"], labels=("only",)),
            images,
            device="cpu",
            batch_size=2,
            image_size=64,
            decode_threads=lanes,
        )


def test_given_probe_is_reused(models, tmp_path):
    from validation.engine import probe_model

    images = many_images(tmp_path, 2)
    probe = probe_model(spec(models["nx6_export"]))
    result = run_inference(
        spec(models["nx6_export"]), images, device="cpu", batch_size=2, image_size=64, probe=probe
    )
    assert result.probe is probe


def test_cpu_run_never_initialises_cuda(models, tmp_path):
    import torch

    run_inference(
        spec(models["nx6_export"]),
        many_images(tmp_path, 1),
        device="cpu",
        batch_size=1,
        image_size=64,
    )
    assert not torch.cuda.is_initialized()


def test_model_failure_during_the_run_is_an_engine_error(models, tmp_path):
    images = many_images(tmp_path, 2)
    with pytest.raises(EngineError, match="failed on a batch of 2 images: .*unsupported input"):
        run_inference(
            spec(models["fail_pixels_script"]), images, device="cpu", batch_size=2, image_size=256
        )


@pytest.mark.parametrize(
    ("device", "message"),
    [("gpu", "unknown device 'gpu'"), ("cuda:7", "CUDA device cuda:7 is not available")],
)
def test_unusable_device_is_refused(models, tmp_path, device, message):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(EngineError, match=message):
        run_inference(
            spec(models["nx6_export"]),
            many_images(tmp_path, 1),
            device=device,
            batch_size=1,
            image_size=64,
        )


def test_cpu_lanes_give_the_results_of_one_lane_in_input_order(models, tmp_path):
    images = many_images(tmp_path, 9)
    images.insert(4, ("/nowhere/gone.jpg", "gone.jpg"))  # a skip inside a lane's batch
    threads = torch.get_num_threads()
    runs = [run_nx6(models, images, decode_threads=lanes) for lanes in (1, 3)]
    same(*runs)
    assert runs[0].skipped == [(4, "gone.jpg", "file not found")]
    assert torch.get_num_threads() == threads  # the lanes' one thread each is not left behind
    # Stage times are per lane, so they stay within the run's wall time.
    timing = runs[1].timing
    assert timing["preprocess"] + timing["model"] + timing["postprocess"] <= timing["total"]
