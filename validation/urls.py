"""URLs of the validation pages: the run list, the wizard, a run's details and drill-down."""

from django.urls import path

from validation.views import (
    api_tokens,
    compare,
    crops,
    curves,
    exports,
    instances,
    model_library,
    review,
    run_detail,
    runs_list,
    whatif,
    wizard,
    worst_images,
)


def per_run(route: str, view, name: str):
    """A URL of one run's pages: the route under runs/<int:pk>/."""
    return path(f"runs/<int:pk>/{route}", view, name=name)


app_name = "validation"
urlpatterns = [
    path("", runs_list.run_list, name="run-list"),
    path("models/", model_library.model_library, name="model-library"),
    path("runs/new/", wizard.wizard_start, name="wizard-start"),
    # Each wizard (one per + click, per tab) has its own id; the id-less URLs mean the most
    # recently used wizard of the session, for old links and scripts.
    path("runs/new/<slug:wizard_id>/step/1/", wizard.wizard_step1, name="wizard-step1"),
    path("runs/new/<slug:wizard_id>/step/2/", wizard.wizard_step2, name="wizard-step2"),
    path("runs/new/<slug:wizard_id>/step/3/", wizard.wizard_step3, name="wizard-step3"),
    path("runs/new/1/", wizard.wizard_step1, name="wizard-step1"),
    path("runs/new/2/", wizard.wizard_step2, name="wizard-step2"),
    path("runs/new/3/", wizard.wizard_step3, name="wizard-step3"),
    path("runs/new/models/", wizard.wizard_models, name="wizard-models"),
    path("runs/new/project/", wizard.wizard_project_summary, name="wizard-project-summary"),
    path("runs/compare/", compare.run_compare, name="run-compare"),
    per_run("", run_detail.run_detail, "run-detail"),
    per_run("worst/", worst_images.worst_images_page, "worst-images"),
    per_run("progress/", run_detail.run_progress, "run-progress"),
    per_run("categories/", run_detail.run_categories, "run-categories"),
    per_run("cancel/", run_detail.run_cancel, "run-cancel"),
    per_run("reevaluate/", run_detail.run_reevaluate, "run-reevaluate"),
    per_run("cells/<int:row>-<int:col>/", instances.run_cell, "run-cell"),
    per_run("selection/", instances.instance_selection, "instance-selection"),
    per_run("instances/<int:instance_pk>/crop.png", crops.instance_crop, "instance-crop"),
    per_run("images/<int:image_pk>/", instances.image_view, "image-view"),
    per_run(
        "images/<int:image_pk>/predictions.json",
        instances.image_predictions_json,
        "image-predictions",
    ),
    # Exports, review and API tokens (issue 6).
    per_run("export/matrix.csv", exports.export_matrix_csv, "export-matrix-csv"),
    per_run("export/per-label.csv", exports.export_per_label_csv, "export-per-label-csv"),
    per_run("export/instances.csv", exports.export_instances_csv, "export-instances-csv"),
    per_run("export/predictions.json", exports.export_predictions_json, "export-predictions-json"),
    per_run("export/run.json", exports.export_run_json, "export-run-json"),
    per_run("review/", review.run_review, "run-review"),
    path("account/tokens/", api_tokens.api_tokens, name="api-tokens"),
    path(
        "account/tokens/<int:token_pk>/revoke/",
        api_tokens.revoke_api_token,
        name="api-token-revoke",
    ),
    # What-if, curves and recommended confidences (issue 6).
    per_run("whatif/", whatif.run_whatif, "run-whatif"),
    per_run("whatif/save/", whatif.run_whatif_save, "run-whatif-save"),
    per_run("whatif/cells/<int:row>-<int:col>/", whatif.run_whatif_cell, "run-whatif-cell"),
    per_run("whatif/crops/<str:token>.png", whatif.run_whatif_crop, "run-whatif-crop"),
    per_run("whatif/images/<int:image_pk>/", whatif.run_whatif_image, "run-whatif-image"),
    per_run("whatif/selection/", whatif.run_whatif_selection, "run-whatif-selection"),
    per_run("curves/", curves.run_curves, "run-curves"),
    per_run("recommended/", curves.run_recommended, "run-recommended"),
    per_run("recommended/use/", curves.run_recommended_use, "run-recommended-use"),
    per_run("recommended/config.json", curves.run_deployment_config, "run-deployment-config"),
]
