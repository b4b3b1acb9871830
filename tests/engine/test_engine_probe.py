"""probe_model: formats, batch/size dynamism, classes, metadata, load failures."""

from __future__ import annotations

import engine_models as em
import pytest
import torch
from engine_models import spec

from validation.engine import (
    InputContractError,
    ModelLoadError,
    OutputContractError,
    ProbeResult,
    probe_model,
)


@pytest.mark.parametrize(
    ("name", "labels", "fmt", "kind"),
    [
        ("nx6_export", ("a", "b"), "nx6", "tensor"),
        ("nx6_script", ("a", "b"), "nx6", "tensor"),
        ("list_script", ("a", "b"), "nx6", "tensor"),
        ("yolo_export", ("a", "b", "c"), "yolo", "tensor"),
        ("yolo_script", ("a", "b", "c"), "yolo", "tensor"),
        ("torchvision_script", ("a", "b"), "torchvision", "list"),
    ],
)
def test_output_format_is_recognised(models, name, labels, fmt, kind):
    probe = probe_model(spec(models[name], labels))
    assert probe.output_format == fmt
    assert probe.input_kind == kind
    assert probe.num_classes == len(labels)
    assert probe.label_names == labels


def test_dynamic_export_has_dynamic_batch_and_size(models):
    probe = probe_model(spec(models["nx6_export"]))
    assert probe.dynamic_batch and probe.dynamic_size
    assert probe.fixed_size is None and probe.fixed_batch is None


def test_static_export_has_fixed_batch_and_size(models):
    probe = probe_model(spec(models["fixed_export"], input_size=640))
    assert not probe.dynamic_batch and not probe.dynamic_size
    assert probe.fixed_batch == 1
    assert probe.fixed_size == 128  # from the exported graph, not the spec's 640
    assert "fixed input size 128×128" in probe.message


def test_torchscript_metadata_gives_label_names(models):
    probe = probe_model(spec(models["yolo_script"], labels=()))
    assert probe.label_names == ("a", "b", "c")
    assert probe.metadata["imgsz"] == [128, 128]
    assert probe.stride == 32
    assert "label names read from the model file" in probe.message


def test_torchvision_background_class_is_detected(models):
    probe = probe_model(spec(models["torchvision_script"], labels=("a", "b")))
    assert probe.label_offset == 1
    assert "background" in probe.message


def test_torchvision_head_with_other_class_count_is_refused(models):
    with pytest.raises(OutputContractError, match="box predictor has 3 classes but 5 label"):
        probe_model(spec(models["torchvision_script"], labels=tuple("abcde")))


def test_yolo_class_count_must_match_labels(models):
    with pytest.raises(OutputContractError, match="YOLO head has 3 classes but 2 label names"):
        probe_model(spec(models["yolo_export"], labels=("a", "b")))


def test_metadata_names_must_agree_with_given_labels(models):
    with pytest.raises(OutputContractError, match="names 3 classes"):
        probe_model(spec(models["yolo_script"], labels=("a", "b", "c", "d")))


def test_wrong_output_shape_says_what_came(models):
    with pytest.raises(OutputContractError) as err:
        probe_model(spec(models["wrong_script"]))
    message = str(err.value)
    assert "Tensor[1×5] float32" in message
    assert "x1 y1 x2 y2 score class" in message


def test_forced_format_that_does_not_fit_is_refused(models):
    with pytest.raises(OutputContractError, match=r"'yolo' format.*got Tensor\[1×2×6\]"):
        probe_model(spec(models["nx6_export"], output_format="yolo"))


def test_input_the_model_refuses_is_reported(tmp_path):
    bad = em.script_model(torch.nn.Linear(7, 2), tmp_path / "linear.pt")
    with pytest.raises(InputContractError, match="refused every input"):
        probe_model(spec(bad))


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelLoadError, match="model file not found: gone.pt2"):
        probe_model(spec(tmp_path / "gone.pt2"))


def test_pickled_state_dict_is_not_loaded_as_torchscript(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ModelLoadError, match="cannot load weights.pt as a TorchScript model"):
        probe_model(spec(path))


def test_garbage_pt2_is_a_load_error(tmp_path):
    path = tmp_path / "junk.pt2"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelLoadError, match="not a .pt2 or TorchScript file"):
        probe_model(spec(path))


def test_unknown_suffix_is_a_load_error(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="cannot tell the model format"):
        probe_model(spec(path))


def test_probe_result_round_trips_through_json(models):
    import json

    probe = probe_model(spec(models["fixed_export"]))
    again = ProbeResult.from_dict(json.loads(json.dumps(probe.as_dict())))
    assert again == probe


def test_real_torchvision_faster_rcnn_script(tmp_path):
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=16, padding=1))
    backbone.out_channels = 8
    anchors = AnchorGenerator(sizes=((32,),), aspect_ratios=((1.0,),))
    model = FasterRCNN(
        backbone,
        num_classes=3,
        rpn_anchor_generator=anchors,
        min_size=128,
        max_size=128,
        box_score_thresh=0.0,
    )
    path = em.script_model(model, tmp_path / "frcnn.pt")
    probe = probe_model(spec(path, labels=("a", "b")))
    assert probe.output_format == "torchvision"
    assert probe.input_kind == "list"
    assert probe.label_offset == 1
