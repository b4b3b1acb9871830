//! Borrowed input columns: each holds 32-bit or 64-bit values (the NumPy dtype it came in)
//! and is read as 64-bit, with one dtype dispatch per call rather than per value.

use std::ops::Range;

/// A borrowed, contiguous column of `N` (32-bit) or `W` (64-bit) values, read as `W`.
#[derive(Clone, Copy, Debug)]
pub enum Column<'a, N, W> {
    Narrow(&'a [N]),
    Wide(&'a [W]),
}

/// Scores, thresholds, box coordinates: float32 or float64, read as f64.
pub type Floats<'a> = Column<'a, f32, f64>;

/// Labels, offsets, image ids: int32 or int64, read as i64.
pub type Ints<'a> = Column<'a, i32, i64>;

impl<N: Copy + Into<W>, W: Copy> Column<'_, N, W> {
    pub fn len(&self) -> usize {
        match self {
            Column::Narrow(a) => a.len(),
            Column::Wide(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> W {
        match self {
            Column::Narrow(a) => a[i].into(),
            Column::Wide(a) => a[i],
        }
    }

    pub fn to_vec(&self) -> Vec<W> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_into(0..self.len(), &mut out);
        out
    }

    /// Appends `self[range]`, widened.
    #[inline]
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<W>) {
        match self {
            Column::Narrow(a) => out.extend(a[range].iter().map(|&v| v.into())),
            Column::Wide(a) => out.extend_from_slice(&a[range]),
        }
    }
}

impl Ints<'_> {
    /// Appends `self[range]` as indices; the values must be validated non-negative.
    #[inline]
    pub fn extend_indices(&self, range: Range<usize>, out: &mut Vec<usize>) {
        match self {
            Column::Narrow(a) => out.extend(a[range].iter().map(|&v| v as usize)),
            Column::Wide(a) => out.extend(a[range].iter().map(|&v| v as usize)),
        }
    }
}

/// Boxes `(rows, cols)` as x1 y1 x2 y2, borrowed row-major; `cols` must be 4.
#[derive(Clone, Copy, Debug)]
pub struct Boxes<'a> {
    pub values: Floats<'a>,
    pub cols: usize,
}

impl<'a> Boxes<'a> {
    pub fn f64(values: &'a [f64], cols: usize) -> Self {
        Boxes {
            values: Column::Wide(values),
            cols,
        }
    }

    pub fn f32(values: &'a [f32], cols: usize) -> Self {
        Boxes {
            values: Column::Narrow(values),
            cols,
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        (
            self.values.len().checked_div(self.cols).unwrap_or(0),
            self.cols,
        )
    }

    pub fn len(&self) -> usize {
        self.shape().0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends rows `range` as f64.
    #[inline]
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<[f64; 4]>) {
        let flat = 4 * range.start..4 * range.end;
        match self.values {
            Column::Narrow(a) => out.extend(a[flat].chunks_exact(4).map(widen)),
            Column::Wide(a) => out.extend(a[flat].chunks_exact(4).map(widen)),
        }
    }

    /// Row `i` as f64; `i` must be in range and the boxes validated to have 4 columns.
    #[inline]
    pub fn get(&self, i: usize) -> [f64; 4] {
        match self.values {
            Column::Narrow(a) => widen(&a[4 * i..4 * i + 4]),
            Column::Wide(a) => widen(&a[4 * i..4 * i + 4]),
        }
    }
}

/// The four coordinates of one row as f64.
#[inline(always)]
fn widen<T: Copy + Into<f64>>(row: &[T]) -> [f64; 4] {
    [row[0].into(), row[1].into(), row[2].into(), row[3].into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_and_wide_columns_read_the_same_values() {
        let (narrow, wide) = ([1.5_f32, -2.0, 0.25], [1.5_f64, -2.0, 0.25]);
        let (n, w) = (Floats::Narrow(&narrow), Floats::Wide(&wide));
        assert_eq!(n.to_vec(), w.to_vec());
        assert_eq!((n.len(), n.get(1)), (3, -2.0));
        let mut out = vec![9.0];
        n.extend_into(1..3, &mut out);
        assert_eq!(out, [9.0, -2.0, 0.25]);
        let ints = [3_i32, 0, 7];
        let mut indices = Vec::new();
        Ints::Narrow(&ints).extend_indices(0..3, &mut indices);
        assert_eq!(indices, [3, 0, 7]);
        assert_eq!(Ints::Wide(&[5_i64]).get(0), 5);
    }

    #[test]
    fn boxes_are_rows_of_four() {
        let values = [0.0_f32, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let boxes = Boxes::f32(&values, 4);
        assert_eq!(
            (boxes.shape(), boxes.get(1)),
            ((2, 4), [4.0, 5.0, 6.0, 7.0])
        );
        let mut rows = Vec::new();
        boxes.extend_into(0..2, &mut rows);
        assert_eq!(rows, [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]);
        assert_eq!(Boxes::f64(&[], 0).shape(), (0, 0));
    }
}
