//! The thin PyO3 layer: borrow NumPy buffers, run the core without the GIL, return arrays.

#[path = "python_args.rs"]
mod args;
#[path = "python_results.rs"]
mod results;

use numpy::{PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;

use crate::coco;
use crate::coco_files::{self, CocoArrays};
use crate::input::{self, Dataset, InputError};
use crate::line::{self, Decision};
use crate::line_sweep::LineCurve;
use crate::matching::{self, Thresholds};
use crate::pairing::{self, Side};
use crate::sweep::Sweep;
use args::{BoxesArg, FloatsArg, IntsArg, ItemsArg, RunArgs};
use results::{PyEvaluation, PySweep, matrix, vector};

impl From<InputError> for PyErr {
    fn from(err: InputError) -> PyErr {
        PyValueError::new_err(err.0)
    }
}

/// A `#[pyfunction]` over a whole run: the seven run arrays come first, positional, in the
/// order every such function takes them; then `*` and the function's own keyword-only
/// options (`name: Type` or `name: Type = default`). The body finds the arrays borrowed as
/// `$run` (a `RunArgs`).
macro_rules! run_pyfunction {
    (
        fn $name:ident<$py:lifetime>($python:ident, $run:ident;
            $($opt:ident: $ty:ty $(= $default:tt)?),* $(,)?
        ) -> $ret:ty $body:block
    ) => {
        #[pyfunction]
        #[pyo3(signature = (
            gt_boxes, gt_labels, gt_offsets, pred_boxes, pred_labels, pred_scores, pred_offsets,
            *, $($opt $(= $default)?),*
        ))]
        #[allow(clippy::too_many_arguments)]
        fn $name<$py>(
            $python: Python<$py>,
            gt_boxes: &Bound<$py, PyAny>,
            gt_labels: &Bound<$py, PyAny>,
            gt_offsets: &Bound<$py, PyAny>,
            pred_boxes: &Bound<$py, PyAny>,
            pred_labels: &Bound<$py, PyAny>,
            pred_scores: &Bound<$py, PyAny>,
            pred_offsets: &Bound<$py, PyAny>,
            $($opt: $ty),*
        ) -> $ret {
            let $run = RunArgs::extract(
                gt_boxes, gt_labels, gt_offsets, pred_boxes, pred_labels, pred_scores,
                pred_offsets,
            )?;
            $body
        }
    };
}

run_pyfunction! {
    fn evaluate<'py>(py, run;
        num_labels: i64,
        label_thresholds: &Bound<'py, PyAny>,
        iou_threshold: f64,
        low_overlap_threshold: f64,
        reject_labels: Option<&Bound<'py, PyAny>> = None,
        skip_images: Option<&Bound<'py, PyAny>> = None,
    ) -> PyResult<PyEvaluation> {
        let label_thresholds = FloatsArg::extract(label_thresholds, "label_thresholds")?;
        let reject = ItemsArg::extract(reject_labels, "reject_labels")?;
        let skip = ItemsArg::extract(skip_images, "skip_images")?;
        let (gt, pred) = run.views();
        let thresholds = label_thresholds.view();
        let (reject, skip) = (reject.as_ref().map(ItemsArg::view), skip.as_ref().map(ItemsArg::view));
        let (ev, gt_count) = py.detach(|| -> Result<_, InputError> {
            let ds = Dataset::new(gt, pred, num_labels)?;
            let labels = input::check_label_thresholds(thresholds, ds.num_labels)?;
            input::check_overlaps(iou_threshold, low_overlap_threshold)?;
            let (reject, skip) = line::decision_masks(&ds, reject, skip)?;
            let th = Thresholds {
                labels: &labels,
                iou: iou_threshold,
                low: low_overlap_threshold,
            };
            let decision = Decision::new(&reject, &skip);
            Ok((matching::evaluate_lines(&ds, &th, &decision), ds.gt_count()))
        })?;
        PyEvaluation::new(py, ev, gt_count)
    }
}

run_pyfunction! {
    fn coco_ap<'py>(py, run; num_labels: i64) -> PyResult<Py<PyArray2<f64>>> {
        let (gt, pred) = run.views();
        let (ap, labels) = py.detach(|| -> Result<_, InputError> {
            let ds = Dataset::new(gt, pred, num_labels)?;
            Ok((coco::coco_ap(&ds), ds.num_labels))
        })?;
        matrix(py, ap, (labels, coco::NUM_IOU))
    }
}

run_pyfunction! {
    fn sweep<'py>(py, run;
        num_labels: i64,
        iou_threshold: f64,
        low_overlap_threshold: f64,
        thresholds: Option<&Bound<'py, PyAny>> = None,
        reject_labels: Option<&Bound<'py, PyAny>> = None,
        skip_images: Option<&Bound<'py, PyAny>> = None,
    ) -> PyResult<PySweep> {
        let grid = match thresholds {
            Some(obj) => confidences(obj, "thresholds")?,
            None => (0..=100).map(|i| f64::from(i) / 100.0).collect(),
        };
        let reject = ItemsArg::extract(reject_labels, "reject_labels")?;
        let skip = ItemsArg::extract(skip_images, "skip_images")?;
        let (gt, pred) = run.views();
        let (reject, skip) = (reject.as_ref().map(ItemsArg::view), skip.as_ref().map(ItemsArg::view));
        let (core, counts, lines) = py.detach(|| -> Result<_, InputError> {
            let ds = Dataset::new(gt, pred, num_labels)?;
            input::check_overlaps(iou_threshold, low_overlap_threshold)?;
            let (reject, skip) = line::decision_masks(&ds, reject, skip)?;
            let decision = Decision::new(&reject, &skip);
            let lines = LineCurve::new(&ds, &decision);
            let core = Sweep::new(&ds, iou_threshold, low_overlap_threshold);
            let counts = core.counts(&grid);
            Ok((core, counts, lines))
        })?;
        PySweep::new(py, core, grid, counts, lines)
    }
}

/// A 1-D array of confidences, each in [0, 1].
fn confidences(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let values = FloatsArg::extract(obj, name)?.view().to_vec();
    for (i, &t) in values.iter().enumerate() {
        input::check_confidence(&format!("{name}[{i}]"), t)?;
    }
    Ok(values)
}

/// Indices into each side of the pairs found.
type IndexPairs = (Py<PyArray1<i64>>, Py<PyArray1<i64>>);

/// Pairs of boxes of two runs on the same image; see metrics_rs.pyi.
#[pyfunction]
#[pyo3(signature = (image_a, boxes_a, image_b, boxes_b, *, iou_threshold))]
fn pair_boxes<'py>(
    py: Python<'py>,
    image_a: &Bound<'py, PyAny>,
    boxes_a: &Bound<'py, PyAny>,
    image_b: &Bound<'py, PyAny>,
    boxes_b: &Bound<'py, PyAny>,
    iou_threshold: f64,
) -> PyResult<IndexPairs> {
    let (images_a, boxes_a) = (
        IntsArg::extract(image_a, "image_a")?,
        BoxesArg::extract(boxes_a, "boxes_a")?,
    );
    let (images_b, boxes_b) = (
        IntsArg::extract(image_b, "image_b")?,
        BoxesArg::extract(boxes_b, "boxes_b")?,
    );
    let a = Side {
        images: images_a.view(),
        boxes: boxes_a.view(),
    };
    let b = Side {
        images: images_b.view(),
        boxes: boxes_b.view(),
    };
    let (pa, pb) = py.detach(|| pairing::pair_boxes(a, b, iou_threshold))?;
    Ok((vector(py, pa), vector(py, pb)))
}

type CocoTuple = (
    Vec<String>,
    Py<PyArray1<i64>>,
    Py<PyArray1<i64>>,
    Py<PyArray2<f64>>,
    Py<PyArray1<i64>>,
    Py<PyArray1<i64>>,
    Py<PyArray2<f64>>,
    Py<PyArray1<i64>>,
    Py<PyArray1<f64>>,
    Py<PyArray1<i64>>,
);

/// A COCO data set file and a COCO results file as flat arrays; see metrics_rs.pyi.
#[pyfunction]
fn read_coco(py: Python<'_>, gt_path: PathBuf, pred_path: PathBuf) -> PyResult<CocoTuple> {
    let coco: CocoArrays = py.detach(|| coco_files::read_coco(&gt_path, &pred_path))?;
    let run = coco.run;
    let (n, m) = (run.gt_labels.len(), run.pred_labels.len());
    Ok((
        coco.labels,
        vector(py, coco.category_ids),
        vector(py, coco.image_ids),
        matrix(py, run.gt_boxes, (n, 4))?,
        vector(py, run.gt_labels),
        vector(py, run.gt_offsets),
        matrix(py, run.pred_boxes, (m, 4))?,
        vector(py, run.pred_labels),
        vector(py, run.pred_scores),
        vector(py, run.pred_offsets),
    ))
}

/// The `metrics_rs` Python module.
#[pymodule]
fn metrics_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(coco_ap, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(pair_boxes, m)?)?;
    m.add_function(wrap_pyfunction!(read_coco, m)?)?;
    m.add_class::<PyEvaluation>()?;
    m.add_class::<PySweep>()?;
    m.add("TRUE_POSITIVE", matching::TRUE_POSITIVE)?;
    m.add("CONFUSION", matching::CONFUSION)?;
    m.add("LOC", matching::LOC)?;
    m.add("DUPLICATE", matching::DUPLICATE)?;
    m.add("BACKGROUND", matching::BACKGROUND)?;
    m.add("DROPPED", matching::DROPPED)?;
    m.add("CAUGHT", line::CAUGHT)?;
    m.add("ESCAPE", line::ESCAPE)?;
    m.add("OVERKILL", line::OVERKILL)?;
    m.add("PASS", line::PASS)?;
    m.add("SKIPPED", line::SKIPPED)?;
    Ok(())
}
