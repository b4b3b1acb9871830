//! The result classes of `evaluate` and `sweep`, and NumPy arrays made from the core's vectors.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::input;
use crate::line::LineTotals;
use crate::line_sweep::{LineCurve, LineCurves};
use crate::matching::Evaluation;
use crate::metrics::Scores;
use crate::sweep::{Curves, Sweep};

/// `values` as a `shape` array, row-major.
pub(super) fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    shape: (usize, usize),
) -> PyResult<Py<PyArray2<T>>> {
    Ok(values
        .into_pyarray(py)
        .reshape([shape.0, shape.1])?
        .unbind())
}

pub(super) fn vector<T: numpy::Element>(py: Python<'_>, values: Vec<T>) -> Py<PyArray1<T>> {
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
    #[pyo3(get)]
    image_outcome: Py<PyArray1<i8>>,
    #[pyo3(get)]
    image_by_chance: Py<PyArray1<bool>>,
    #[pyo3(get)]
    label_outcomes: Py<PyArray2<i64>>,
    #[pyo3(get)]
    label_by_chance: Py<PyArray1<i64>>,
    totals: LineTotals,
}

impl PyEvaluation {
    /// The matching of a run with its counts and scores per label.
    pub(super) fn new(py: Python<'_>, ev: Evaluation, gt_count: Vec<i64>) -> PyResult<Self> {
        let (tp, pred_count) = (ev.tp(), ev.pred_count());
        let scores = Scores::new(&tp, &pred_count, &gt_count);
        let shape = (ev.rows(), ev.cols());
        let label_outcomes = ev.lines.label_outcomes();
        Ok(PyEvaluation {
            image_outcome: vector(py, ev.image_outcome),
            image_by_chance: vector(py, ev.image_by_chance),
            label_outcomes: matrix(py, label_outcomes, (ev.num_labels, 4))?,
            label_by_chance: vector(py, ev.lines.label_by_chance()),
            totals: ev.lines.totals(),
            matrix: matrix(py, ev.matrix, shape)?,
            pred_gt: vector(py, ev.pred_gt),
            pred_iou: vector(py, ev.pred_iou),
            pred_kind: vector(py, ev.pred_kind),
            gt_pred: vector(py, ev.gt_pred),
            tp: vector(py, tp),
            pred_count: vector(py, pred_count),
            gt_count: vector(py, gt_count),
            precision: vector(py, scores.per_label.precision),
            recall: vector(py, scores.per_label.recall),
            f1: vector(py, scores.per_label.f1),
            micro_precision: scores.micro.precision,
            micro_recall: scores.micro.recall,
            micro_f1: scores.micro.f1,
            num_labels: ev.num_labels,
        })
    }
}

#[pymethods]
impl PyEvaluation {
    #[getter]
    fn line_totals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = &self.totals;
        let d = PyDict::new(py);
        for (key, n) in [
            ("total", t.total),
            ("actual_ng", t.actual_ng),
            ("actual_ok", t.actual_ok),
            ("caught", t.caught),
            ("escapes", t.escapes),
            ("overkills", t.overkills),
            ("passes", t.passes),
            ("caught_by_chance", t.caught_by_chance),
        ] {
            d.set_item(key, n)?;
        }
        d.set_item("escape_rate", t.escape_rate)?;
        d.set_item("overkill_rate", t.overkill_rate)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Evaluation(num_labels={}, predictions={}, annotations={})",
            self.num_labels,
            self.pred_gt.bind(py).len(),
            self.gt_pred.bind(py).len()
        )
    }
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
    lines: LineCurve,
    #[pyo3(get)]
    escapes: Py<PyArray1<i64>>,
    #[pyo3(get)]
    overkills: Py<PyArray1<i64>>,
    #[pyo3(get)]
    escape_rate: Py<PyArray1<f64>>,
    #[pyo3(get)]
    overkill_rate: Py<PyArray1<f64>>,
    #[pyo3(get)]
    actual_ng: i64,
    #[pyo3(get)]
    actual_ok: i64,
}

impl PySweep {
    /// The curves of `core` at `grid`, from its counts there (see [`Sweep::counts`]).
    pub(super) fn new(
        py: Python<'_>,
        core: Sweep,
        grid: Vec<f64>,
        (kept, tp): (Vec<i64>, Vec<i64>),
        lines: LineCurve,
    ) -> PyResult<Self> {
        let curves = Curves::new(&kept, &tp, &core.gt_count, grid.len());
        let line: LineCurves = lines.curves(&grid);
        let shape = (core.curves.len(), grid.len());
        Ok(PySweep {
            thresholds: vector(py, grid),
            tp: matrix(py, tp, shape)?,
            pred_count: matrix(py, kept, shape)?,
            gt_count: vector(py, core.gt_count.clone()),
            precision: matrix(py, curves.per_label.precision, shape)?,
            recall: matrix(py, curves.per_label.recall, shape)?,
            f1: matrix(py, curves.per_label.f1, shape)?,
            micro_precision: vector(py, curves.micro.precision),
            micro_recall: vector(py, curves.micro.recall),
            micro_f1: vector(py, curves.micro.f1),
            escapes: vector(py, line.escapes),
            overkills: vector(py, line.overkills),
            escape_rate: vector(py, line.escape_rate),
            overkill_rate: vector(py, line.overkill_rate),
            actual_ng: lines.actual_ng(),
            actual_ok: lines.actual_ok(),
            lines,
            core,
        })
    }
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

    #[pyo3(signature = (max_escape_rate = 0.0))]
    fn confidence_for_escape_rate(&self, max_escape_rate: f64) -> PyResult<f64> {
        input::check_confidence("max_escape_rate", max_escape_rate)?;
        Ok(self.lines.confidence_for_escape_rate(max_escape_rate))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Sweep(num_labels={}, thresholds={})",
            self.core.curves.len(),
            self.thresholds.bind(py).len()
        )
    }
}
