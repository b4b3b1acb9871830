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
    path("runs/<int:pk>/", run_detail.run_detail, name="run-detail"),
    path("runs/<int:pk>/worst/", worst_images.worst_images_page, name="worst-images"),
    path("runs/<int:pk>/progress/", run_detail.run_progress, name="run-progress"),
    path("runs/<int:pk>/categories/", run_detail.run_categories, name="run-categories"),
    path("runs/<int:pk>/cancel/", run_detail.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/reevaluate/", run_detail.run_reevaluate, name="run-reevaluate"),
    path("runs/<int:pk>/cells/<int:row>-<int:col>/", instances.run_cell, name="run-cell"),
    path("runs/<int:pk>/selection/", instances.instance_selection, name="instance-selection"),
    path(
        "runs/<int:pk>/instances/<int:instance_pk>/crop.png",
        crops.instance_crop,
        name="instance-crop",
    ),
    path("runs/<int:pk>/images/<int:image_pk>/", instances.image_view, name="image-view"),
    path(
        "runs/<int:pk>/images/<int:image_pk>/predictions.json",
        instances.image_predictions_json,
        name="image-predictions",
    ),
]

# Exports, review and API tokens (issue 6).
urlpatterns += [
    path("runs/<int:pk>/export/matrix.csv", exports.export_matrix_csv, name="export-matrix-csv"),
    path(
        "runs/<int:pk>/export/per-label.csv",
        exports.export_per_label_csv,
        name="export-per-label-csv",
    ),
    path(
        "runs/<int:pk>/export/instances.csv",
        exports.export_instances_csv,
        name="export-instances-csv",
    ),
    path(
        "runs/<int:pk>/export/predictions.json",
        exports.export_predictions_json,
        name="export-predictions-json",
    ),
    path("runs/<int:pk>/export/run.json", exports.export_run_json, name="export-run-json"),
    path("runs/<int:pk>/review/", review.run_review, name="run-review"),
    path("account/tokens/", api_tokens.api_tokens, name="api-tokens"),
    path(
        "account/tokens/<int:token_pk>/revoke/",
        api_tokens.revoke_api_token,
        name="api-token-revoke",
    ),
]

# What-if, curves and recommended confidences (issue 6).
urlpatterns += [
    path("runs/<int:pk>/whatif/", whatif.run_whatif, name="run-whatif"),
    path("runs/<int:pk>/whatif/save/", whatif.run_whatif_save, name="run-whatif-save"),
    path(
        "runs/<int:pk>/whatif/cells/<int:row>-<int:col>/",
        whatif.run_whatif_cell,
        name="run-whatif-cell",
    ),
    path(
        "runs/<int:pk>/whatif/crops/<str:token>.png",
        whatif.run_whatif_crop,
        name="run-whatif-crop",
    ),
    path(
        "runs/<int:pk>/whatif/images/<int:image_pk>/",
        whatif.run_whatif_image,
        name="run-whatif-image",
    ),
    path(
        "runs/<int:pk>/whatif/selection/",
        whatif.run_whatif_selection,
        name="run-whatif-selection",
    ),
    path("runs/<int:pk>/curves/", curves.run_curves, name="run-curves"),
    path("runs/<int:pk>/recommended/", curves.run_recommended, name="run-recommended"),
    path(
        "runs/<int:pk>/recommended/use/",
        curves.run_recommended_use,
        name="run-recommended-use",
    ),
    path(
        "runs/<int:pk>/recommended/config.json",
        curves.run_deployment_config,
        name="run-deployment-config",
    ),
]
