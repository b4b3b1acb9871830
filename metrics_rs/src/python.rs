//! The thin PyO3 layer: borrow NumPy buffers, run the core without the GIL, return arrays.

use numpy::ndarray::{Dimension, Ix1, Ix2};
use numpy::{
    Element, IntoPyArray, PyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray,
    PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::path::PathBuf;

use crate::coco;
use crate::coco_files::{self, CocoArrays};
use crate::input::{self, Boxes, Dataset, Floats, GroundTruth, InputError, Ints, Predictions};
use crate::matching::{self, Thresholds};
use crate::metrics::{Scores, f1, ratio};
use crate::sweep::Sweep;

impl From<InputError> for PyErr {
    fn from(err: InputError) -> PyErr {
        PyValueError::new_err(err.0)
    }
}

fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}

/// Which NumPy dtype kinds an argument accepts when it must be converted.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Int,
}

/// `obj` as a C-contiguous float64 or int64 array; kinds that do not fit are refused.
fn coerce<'py>(obj: &Bound<'py, PyAny>, name: &str, kind: Kind) -> PyResult<Bound<'py, PyAny>> {
    let np = obj.py().import("numpy")?;
    let array = np
        .call_method1("asarray", (obj,))
        .map_err(|e| value_error(format!("{name}: not an array ({e})")))?;
    let dtype_kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    let size: usize = array.getattr("size")?.extract()?;
    let fits = match kind {
        Kind::Float => matches!(dtype_kind.as_str(), "f" | "i" | "u"),
        Kind::Int => matches!(dtype_kind.as_str(), "i" | "u"),
    };
    if !fits && size > 0 {
        let dtype: String = array.getattr("dtype")?.str()?.extract()?;
        let want = match kind {
            Kind::Float => "float32 or float64",
            Kind::Int => "int32 or int64",
        };
        return Err(value_error(format!(
            "{name}: expected {want} values, got dtype {dtype}"
        )));
    }
    let target = match kind {
        Kind::Float => np.getattr("float64")?,
        Kind::Int => np.getattr("int64")?,
    };
    np.call_method1("ascontiguousarray", (array, target))
}

fn shape_error(name: &str, want: &str, array: &Bound<'_, PyAny>) -> PyErr {
    let shape = array
        .getattr("shape")
        .and_then(|s| s.str().map(|s| s.to_string()))
        .unwrap_or_else(|_| "?".to_owned());
    value_error(format!("{name}: expected {want}, got shape {shape}"))
}

/// Borrows `obj` if it already is an array of `T` with `D` dimensions; a strided one is made
/// contiguous first (the only case with a copy, besides other dtypes).
fn borrow<'py, T: Element, D: Dimension>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Option<PyReadonlyArray<'py, T, D>>> {
    let Ok(array) = obj.cast::<PyArray<T, D>>() else {
        return Ok(None);
    };
    let array = if array.is_c_contiguous() {
        array.clone()
    } else {
        let np = obj.py().import("numpy")?;
        np.call_method1("ascontiguousarray", (array,))?
            .cast_into::<PyArray<T, D>>()
            .map_err(PyErr::from)?
    };
    let readonly = array
        .try_readonly()
        .map_err(|_| value_error(format!("{name}: the array is being written to elsewhere")))?;
    if readonly.as_slice().is_err() {
        return Err(value_error(format!("{name}: the array is not contiguous")));
    }
    Ok(Some(readonly))
}

fn slice<'a, T: Element, D: Dimension>(array: &'a PyReadonlyArray<'_, T, D>) -> &'a [T] {
    // Contiguity was checked when the array was borrowed.
    array.as_slice().unwrap_or(&[])
}

/// A borrowed `(N, 4)` float array.
enum BoxesArg<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> BoxesArg<'py> {
    fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Some(a) = borrow::<f64, Ix2>(obj, name)? {
            return Ok(Self::F64(a));
        }
        if let Some(a) = borrow::<f32, Ix2>(obj, name)? {
            return Ok(Self::F32(a));
        }
        let converted = coerce(obj, name, Kind::Float)?;
        borrow::<f64, Ix2>(&converted, name)?
            .map(Self::F64)
            .ok_or_else(|| shape_error(name, "shape (N, 4)", &converted))
    }

    fn view(&self) -> Boxes<'_> {
        match self {
            Self::F32(a) => Boxes::f32(slice(a), a.shape()[1]),
            Self::F64(a) => Boxes::f64(slice(a), a.shape()[1]),
        }
    }
}

/// A borrowed 1-D float array.
enum FloatsArg<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

impl<'py> FloatsArg<'py> {
    fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Some(a) = borrow::<f64, Ix1>(obj, name)? {
            return Ok(Self::F64(a));
        }
        if let Some(a) = borrow::<f32, Ix1>(obj, name)? {
            return Ok(Self::F32(a));
        }
        let converted = coerce(obj, name, Kind::Float)?;
        borrow::<f64, Ix1>(&converted, name)?
            .map(Self::F64)
            .ok_or_else(|| shape_error(name, "a 1-D array", &converted))
    }

    fn view(&self) -> Floats<'_> {
        match self {
            Self::F32(a) => Floats::F32(slice(a)),
            Self::F64(a) => Floats::F64(slice(a)),
        }
    }
}

/// A borrowed 1-D integer array.
enum IntsArg<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

impl<'py> IntsArg<'py> {
    fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Some(a) = borrow::<i64, Ix1>(obj, name)? {
            return Ok(Self::I64(a));
        }
        if let Some(a) = borrow::<i32, Ix1>(obj, name)? {
            return Ok(Self::I32(a));
        }
        let converted = coerce(obj, name, Kind::Int)?;
        borrow::<i64, Ix1>(&converted, name)?
            .map(Self::I64)
            .ok_or_else(|| shape_error(name, "a 1-D array", &converted))
    }

    fn view(&self) -> Ints<'_> {
        match self {
            Self::I32(a) => Ints::I32(slice(a)),
            Self::I64(a) => Ints::I64(slice(a)),
        }
    }
}

/// The seven run arrays, borrowed for the length of one call.
struct RunArgs<'py> {
    gt_boxes: BoxesArg<'py>,
    gt_labels: IntsArg<'py>,
    gt_offsets: IntsArg<'py>,
    pred_boxes: BoxesArg<'py>,
    pred_labels: IntsArg<'py>,
    pred_scores: FloatsArg<'py>,
    pred_offsets: IntsArg<'py>,
}

impl<'py> RunArgs<'py> {
    #[allow(clippy::too_many_arguments)]
    fn extract(
        gt_boxes: &Bound<'py, PyAny>,
        gt_labels: &Bound<'py, PyAny>,
        gt_offsets: &Bound<'py, PyAny>,
        pred_boxes: &Bound<'py, PyAny>,
        pred_labels: &Bound<'py, PyAny>,
        pred_scores: &Bound<'py, PyAny>,
        pred_offsets: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        Ok(RunArgs {
            gt_boxes: BoxesArg::extract(gt_boxes, "gt_boxes")?,
            gt_labels: IntsArg::extract(gt_labels, "gt_labels")?,
            gt_offsets: IntsArg::extract(gt_offsets, "gt_offsets")?,
            pred_boxes: BoxesArg::extract(pred_boxes, "pred_boxes")?,
            pred_labels: IntsArg::extract(pred_labels, "pred_labels")?,
            pred_scores: FloatsArg::extract(pred_scores, "pred_scores")?,
            pred_offsets: IntsArg::extract(pred_offsets, "pred_offsets")?,
        })
    }

    fn views(&self) -> (GroundTruth<'_>, Predictions<'_>) {
        let gt = GroundTruth {
            boxes: self.gt_boxes.view(),
            labels: self.gt_labels.view(),
            offsets: self.gt_offsets.view(),
        };
        let pred = Predictions {
            boxes: self.pred_boxes.view(),
            labels: self.pred_labels.view(),
            scores: self.pred_scores.view(),
            offsets: self.pred_offsets.view(),
        };
        (gt, pred)
    }
}

fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    shape: (usize, usize),
) -> PyResult<Py<PyArray2<T>>> {
    Ok(values
        .into_pyarray(py)
        .reshape([shape.0, shape.1])?
        .unbind())
}

fn vector<T: numpy::Element>(py: Python<'_>, values: Vec<T>) -> Py<PyArray1<T>> {
    values.into_pyarray(py).unbind()
}

/// Result of `evaluate`; see metrics_rs.pyi.
#[pyclass(frozen, module = "metrics_rs", name = "Evaluation")]
pub struct PyEvaluation {
    #[pyo3(get)]
    matrix: Py<PyArray2<i64>>,
    #[pyo3(get)]
    pred_gt: Py<PyArray1<i64>>,
    #[pyo3(get)]
    pred_iou: Py<PyArray1<f64>>,
    #[pyo3(get)]
    pred_kind: Py<PyArray1<i8>>,
    #[pyo3(get)]
    gt_pred: Py<PyArray1<i64>>,
    #[pyo3(get)]
    tp: Py<PyArray1<i64>>,
    #[pyo3(get)]
    pred_count: Py<PyArray1<i64>>,
    #[pyo3(get)]
    gt_count: Py<PyArray1<i64>>,
    #[pyo3(get)]
    precision: Py<PyArray1<f64>>,
    #[pyo3(get)]
    recall: Py<PyArray1<f64>>,
    #[pyo3(get)]
    f1: Py<PyArray1<f64>>,
    #[pyo3(get)]
    micro_precision: f64,
    #[pyo3(get)]
    micro_recall: f64,
    #[pyo3(get)]
    micro_f1: f64,
    #[pyo3(get)]
    num_labels: usize,
}

#[pymethods]
impl PyEvaluation {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Evaluation(num_labels={}, predictions={}, annotations={})",
            self.num_labels,
            self.pred_gt.bind(py).len(),
            self.gt_pred.bind(py).len()
        )
    }
}

#[pyfunction]
#[pyo3(signature = (
    gt_boxes, gt_labels, gt_offsets, pred_boxes, pred_labels, pred_scores, pred_offsets,
    *, num_labels, label_thresholds, iou_threshold, low_overlap_threshold,
))]
#[allow(clippy::too_many_arguments)]
fn evaluate<'py>(
    py: Python<'py>,
    gt_boxes: &Bound<'py, PyAny>,
    gt_labels: &Bound<'py, PyAny>,
    gt_offsets: &Bound<'py, PyAny>,
    pred_boxes: &Bound<'py, PyAny>,
    pred_labels: &Bound<'py, PyAny>,
    pred_scores: &Bound<'py, PyAny>,
    pred_offsets: &Bound<'py, PyAny>,
    num_labels: i64,
    label_thresholds: &Bound<'py, PyAny>,
    iou_threshold: f64,
    low_overlap_threshold: f64,
) -> PyResult<PyEvaluation> {
    let args = RunArgs::extract(
        gt_boxes,
        gt_labels,
        gt_offsets,
        pred_boxes,
        pred_labels,
        pred_scores,
        pred_offsets,
    )?;
    let label_thresholds = FloatsArg::extract(label_thresholds, "label_thresholds")?;
    let (gt, pred) = args.views();
    let thresholds = label_thresholds.view();
    let (ev, gt_count) = py.detach(|| -> Result<_, InputError> {
        let ds = Dataset::new(gt, pred, num_labels)?;
        let labels = input::check_label_thresholds(thresholds, ds.num_labels)?;
        input::check_overlaps(iou_threshold, low_overlap_threshold)?;
        let th = Thresholds {
            labels: &labels,
            iou: iou_threshold,
            low: low_overlap_threshold,
        };
        Ok((matching::evaluate(&ds, &th), ds.gt_count()))
    })?;
    let (tp, pred_count) = (ev.tp(), ev.pred_count());
    let scores = Scores::new(&tp, &pred_count, &gt_count);
    let shape = (ev.rows(), ev.cols());
    Ok(PyEvaluation {
        matrix: matrix(py, ev.matrix, shape)?,
        pred_gt: vector(py, ev.pred_gt),
        pred_iou: vector(py, ev.pred_iou),
        pred_kind: vector(py, ev.pred_kind),
        gt_pred: vector(py, ev.gt_pred),
        tp: vector(py, tp),
        pred_count: vector(py, pred_count),
        gt_count: vector(py, gt_count),
        precision: vector(py, scores.precision),
        recall: vector(py, scores.recall),
        f1: vector(py, scores.f1),
        micro_precision: scores.micro_precision,
        micro_recall: scores.micro_recall,
        micro_f1: scores.micro_f1,
        num_labels: ev.num_labels,
    })
}

#[pyfunction]
#[pyo3(signature = (
    gt_boxes, gt_labels, gt_offsets, pred_boxes, pred_labels, pred_scores, pred_offsets,
    *, num_labels,
))]
#[allow(clippy::too_many_arguments)]
fn coco_ap<'py>(
    py: Python<'py>,
    gt_boxes: &Bound<'py, PyAny>,
    gt_labels: &Bound<'py, PyAny>,
    gt_offsets: &Bound<'py, PyAny>,
    pred_boxes: &Bound<'py, PyAny>,
    pred_labels: &Bound<'py, PyAny>,
    pred_scores: &Bound<'py, PyAny>,
    pred_offsets: &Bound<'py, PyAny>,
    num_labels: i64,
) -> PyResult<Py<PyArray2<f64>>> {
    let args = RunArgs::extract(
        gt_boxes,
        gt_labels,
        gt_offsets,
        pred_boxes,
        pred_labels,
        pred_scores,
        pred_offsets,
    )?;
    let (gt, pred) = args.views();
    let (ap, labels) = py.detach(|| -> Result<_, InputError> {
        let ds = Dataset::new(gt, pred, num_labels)?;
        Ok((coco::coco_ap(&ds), ds.num_labels))
    })?;
    matrix(py, ap, (labels, coco::NUM_IOU))
}

/// Result of `sweep`; see metrics_rs.pyi.
#[pyclass(frozen, module = "metrics_rs", name = "Sweep")]
pub struct PySweep {
    core: Sweep,
    #[pyo3(get)]
    thresholds: Py<PyArray1<f64>>,
    #[pyo3(get)]
    tp: Py<PyArray2<i64>>,
    #[pyo3(get)]
    pred_count: Py<PyArray2<i64>>,
    #[pyo3(get)]
    gt_count: Py<PyArray1<i64>>,
    #[pyo3(get)]
    precision: Py<PyArray2<f64>>,
    #[pyo3(get)]
    recall: Py<PyArray2<f64>>,
    #[pyo3(get)]
    f1: Py<PyArray2<f64>>,
    #[pyo3(get)]
    micro_precision: Py<PyArray1<f64>>,
    #[pyo3(get)]
    micro_recall: Py<PyArray1<f64>>,
    #[pyo3(get)]
    micro_f1: Py<PyArray1<f64>>,
}

#[pymethods]
impl PySweep {
    fn best_f1<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>) {
        let (t, f) = py.detach(|| self.core.best_f1());
        (t.into_pyarray(py), f.into_pyarray(py))
    }

    fn threshold_for_precision<'py>(
        &self,
        py: Python<'py>,
        min_precision: f64,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        input::check_confidence("min_precision", min_precision)?;
        let t = py.detach(|| self.core.threshold_for_precision(min_precision));
        Ok(t.into_pyarray(py))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Sweep(num_labels={}, thresholds={})",
            self.core.curves.len(),
            self.thresholds.bind(py).len()
        )
    }
}

#[pyfunction]
#[pyo3(signature = (
    gt_boxes, gt_labels, gt_offsets, pred_boxes, pred_labels, pred_scores, pred_offsets,
    *, num_labels, iou_threshold, low_overlap_threshold, thresholds = None,
))]
#[allow(clippy::too_many_arguments)]
fn sweep<'py>(
    py: Python<'py>,
    gt_boxes: &Bound<'py, PyAny>,
    gt_labels: &Bound<'py, PyAny>,
    gt_offsets: &Bound<'py, PyAny>,
    pred_boxes: &Bound<'py, PyAny>,
    pred_labels: &Bound<'py, PyAny>,
    pred_scores: &Bound<'py, PyAny>,
    pred_offsets: &Bound<'py, PyAny>,
    num_labels: i64,
    iou_threshold: f64,
    low_overlap_threshold: f64,
    thresholds: Option<&Bound<'py, PyAny>>,
) -> PyResult<PySweep> {
    let args = RunArgs::extract(
        gt_boxes,
        gt_labels,
        gt_offsets,
        pred_boxes,
        pred_labels,
        pred_scores,
        pred_offsets,
    )?;
    let grid = match thresholds {
        Some(obj) => {
            let arg = FloatsArg::extract(obj, "thresholds")?;
            let values = arg.view().to_vec();
            for (i, &t) in values.iter().enumerate() {
                input::check_confidence(&format!("thresholds[{i}]"), t)?;
            }
            values
        }
        None => (0..=100).map(|i| f64::from(i) / 100.0).collect(),
    };
    let (gt, pred) = args.views();
    let (core, kept, tp) = py.detach(|| -> Result<_, InputError> {
        let ds = Dataset::new(gt, pred, num_labels)?;
        input::check_overlaps(iou_threshold, low_overlap_threshold)?;
        let core = Sweep::new(&ds, iou_threshold, low_overlap_threshold);
        let (kept, tp) = core.counts(&grid);
        Ok((core, kept, tp))
    })?;
    let curves = Curves::new(&kept, &tp, &core.gt_count, grid.len());
    let shape = (core.curves.len(), grid.len());
    Ok(PySweep {
        thresholds: vector(py, grid),
        tp: matrix(py, tp, shape)?,
        pred_count: matrix(py, kept, shape)?,
        gt_count: vector(py, core.gt_count.clone()),
        precision: matrix(py, curves.precision, shape)?,
        recall: matrix(py, curves.recall, shape)?,
        f1: matrix(py, curves.f1, shape)?,
        micro_precision: vector(py, curves.micro_precision),
        micro_recall: vector(py, curves.micro_recall),
        micro_f1: vector(py, curves.micro_f1),
        core,
    })
}

/// Ratios of a sweep, per label (row-major) and micro-averaged per threshold.
struct Curves {
    precision: Vec<f64>,
    recall: Vec<f64>,
    f1: Vec<f64>,
    micro_precision: Vec<f64>,
    micro_recall: Vec<f64>,
    micro_f1: Vec<f64>,
}

impl Curves {
    fn new(kept: &[i64], tp: &[i64], gt_count: &[i64], width: usize) -> Self {
        let mut c = Curves {
            precision: Vec::with_capacity(kept.len()),
            recall: Vec::with_capacity(kept.len()),
            f1: Vec::with_capacity(kept.len()),
            micro_precision: Vec::with_capacity(width),
            micro_recall: Vec::with_capacity(width),
            micro_f1: Vec::with_capacity(width),
        };
        for (i, (&n, &t)) in kept.iter().zip(tp).enumerate() {
            let g = gt_count[i / width.max(1)];
            c.precision.push(ratio(t, n));
            c.recall.push(ratio(t, g));
            c.f1.push(f1(t, n, g));
        }
        let gts: i64 = gt_count.iter().sum();
        for j in 0..width {
            let column = |v: &[i64]| (0..gt_count.len()).map(|k| v[k * width + j]).sum::<i64>();
            let (t, n) = (column(tp), column(kept));
            c.micro_precision.push(ratio(t, n));
            c.micro_recall.push(ratio(t, gts));
            c.micro_f1.push(f1(t, n, gts));
        }
        c
    }
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
    let run: CocoArrays = py.detach(|| coco_files::read_coco(&gt_path, &pred_path))?;
    let (n, m) = (run.gt_labels.len(), run.pred_labels.len());
    Ok((
        run.labels,
        vector(py, run.category_ids),
        vector(py, run.image_ids),
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
    m.add_function(wrap_pyfunction!(read_coco, m)?)?;
    m.add_class::<PyEvaluation>()?;
    m.add_class::<PySweep>()?;
    m.add("TRUE_POSITIVE", matching::TRUE_POSITIVE)?;
    m.add("CONFUSION", matching::CONFUSION)?;
    m.add("LOC", matching::LOC)?;
    m.add("DUPLICATE", matching::DUPLICATE)?;
    m.add("BACKGROUND", matching::BACKGROUND)?;
    m.add("DROPPED", matching::DROPPED)?;
    Ok(())
}
