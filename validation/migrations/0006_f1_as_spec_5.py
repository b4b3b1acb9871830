"""Stored F1 recomputed as SPEC §5 now says: 2·TP / (2·TP + FP + FN), 0 unless a label has neither."""

from django.db import migrations


def _f1(tp, predictions, annotations):
    total = predictions + annotations
    return 2 * tp / total if total else None


def recompute_f1(apps, schema_editor):
    InferenceRun = apps.get_model("validation", "InferenceRun")
    for run in InferenceRun.objects.exclude(per_label={}).only("pk", "per_label", "f1").iterator():
        per_label = run.per_label
        if not isinstance(per_label, dict) or not all(
            isinstance(m, dict) and {"tp", "predictions", "annotations"} <= m.keys()
            for m in per_label.values()
        ):
            continue  # not the crate's summary: leave it as it was
        for metrics in per_label.values():
            metrics["f1"] = _f1(metrics["tp"], metrics["predictions"], metrics["annotations"])
        tp = sum(m["tp"] for m in per_label.values())
        predictions = sum(m["predictions"] for m in per_label.values())
        annotations = sum(m["annotations"] for m in per_label.values())
        InferenceRun.objects.filter(pk=run.pk).update(
            per_label=per_label, f1=_f1(tp, predictions, annotations)
        )


class Migration(migrations.Migration):
    dependencies = [("validation", "0005_model_and_review_versions")]

    operations = [migrations.RunPython(recompute_f1, migrations.RunPython.noop)]
