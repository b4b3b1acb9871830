//! Arguments from Python: NumPy arrays of the wanted dtypes borrowed in place (no copy),
//! anything else converted first; every problem a `ValueError` naming the argument.

use numpy::ndarray::{Dimension, Ix1, Ix2};
use numpy::{Element, PyArray, PyArrayMethods, PyReadonlyArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::columns::{Boxes, Column};
use crate::input::{GroundTruth, Predictions};
use crate::line::Items;

pub(super) fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}

/// Which NumPy dtype kinds an argument accepts when it must be converted.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Float,
    Int,
}

/// The 64-bit element type an argument is converted to: float64 or int64.
pub(super) trait Wide: Element {
    const KIND: Kind;
}

impl Wide for f64 {
    const KIND: Kind = Kind::Float;
}

impl Wide for i64 {
    const KIND: Kind = Kind::Int;
}

/// The number of dimensions an argument must have, as its messages say it.
pub(super) trait Shape: Dimension {
    const WANT: &'static str;
}

impl Shape for Ix1 {
    const WANT: &'static str = "a 1-D array";
}

impl Shape for Ix2 {
    const WANT: &'static str = "shape (N, 4)";
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

/// A borrowed array of `N` (32-bit) or `W` (64-bit) elements with `D` dimensions.
pub(super) enum Borrowed<'py, N: Element, W: Element, D: Dimension> {
    Narrow(PyReadonlyArray<'py, N, D>),
    Wide(PyReadonlyArray<'py, W, D>),
}

/// A borrowed `(N, 4)` float array.
pub(super) type BoxesArg<'py> = Borrowed<'py, f32, f64, Ix2>;
/// A borrowed 1-D float array.
pub(super) type FloatsArg<'py> = Borrowed<'py, f32, f64, Ix1>;
/// A borrowed 1-D integer array.
pub(super) type IntsArg<'py> = Borrowed<'py, i32, i64, Ix1>;

impl<'py, N: Element, W: Wide, D: Shape> Borrowed<'py, N, W, D> {
    /// `obj` borrowed where it is such an array, else converted to `W` (and then borrowed).
    pub(super) fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Some(a) = borrow::<W, D>(obj, name)? {
            return Ok(Self::Wide(a));
        }
        if let Some(a) = borrow::<N, D>(obj, name)? {
            return Ok(Self::Narrow(a));
        }
        let converted = coerce(obj, name, W::KIND)?;
        borrow::<W, D>(&converted, name)?
            .map(Self::Wide)
            .ok_or_else(|| shape_error(name, D::WANT, &converted))
    }

    fn column(&self) -> Column<'_, N, W> {
        match self {
            Self::Narrow(a) => Column::Narrow(slice(a)),
            Self::Wide(a) => Column::Wide(slice(a)),
        }
    }
}

impl<N: Element, W: Wide> Borrowed<'_, N, W, Ix1> {
    pub(super) fn view(&self) -> Column<'_, N, W> {
        self.column()
    }
}

impl BoxesArg<'_> {
    pub(super) fn view(&self) -> Boxes<'_> {
        let cols = match self {
            Self::Narrow(a) => a.shape()[1],
            Self::Wide(a) => a.shape()[1],
        };
        Boxes {
            values: self.column(),
            cols,
        }
    }
}

/// The seven run arrays, borrowed for the length of one call.
pub(super) struct RunArgs<'py> {
    gt_boxes: BoxesArg<'py>,
    gt_labels: IntsArg<'py>,
    gt_offsets: IntsArg<'py>,
    pred_boxes: BoxesArg<'py>,
    pred_labels: IntsArg<'py>,
    pred_scores: FloatsArg<'py>,
    pred_offsets: IntsArg<'py>,
}

impl<'py> RunArgs<'py> {
    /// The arguments of every run function, in their order (see `run_pyfunction!`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn extract(
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

    pub(super) fn views(&self) -> (GroundTruth<'_>, Predictions<'_>) {
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

/// A set of labels or images from Python: a boolean mask, or indices (an empty sequence is
/// the empty set).
pub(super) enum ItemsArg<'py> {
    Mask(Vec<bool>),
    Indices(IntsArg<'py>),
}

impl<'py> ItemsArg<'py> {
    pub(super) fn extract(obj: Option<&Bound<'py, PyAny>>, name: &str) -> PyResult<Option<Self>> {
        let Some(obj) = obj else {
            return Ok(None);
        };
        let np = obj.py().import("numpy")?;
        let array = np
            .call_method1("asarray", (obj,))
            .map_err(|e| value_error(format!("{name}: not an array ({e})")))?;
        let ndim: usize = array.getattr("ndim")?.extract()?;
        if ndim != 1 {
            return Err(shape_error(name, "a 1-D array", &array));
        }
        let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
        let size: usize = array.getattr("size")?.extract()?;
        if kind == "b" {
            return Ok(Some(Self::Mask(array.call_method0("tolist")?.extract()?)));
        }
        let array = if size == 0 {
            np.call_method1("zeros", (0, np.getattr("int64")?))?
        } else {
            array
        };
        Ok(Some(Self::Indices(IntsArg::extract(&array, name)?)))
    }

    pub(super) fn view(&self) -> Items<'_> {
        match self {
            Self::Mask(mask) => Items::Mask(mask),
            Self::Indices(indices) => Items::Indices(indices.view()),
        }
    }
}
