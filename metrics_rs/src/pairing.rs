//! Run comparison: the boxes of two runs on the same image paired greedily by IoU (SPEC §4
//! geometry), the pair with the highest IoU first.

use std::cmp::Ordering;
use std::ops::Range;

use rayon::prelude::*;

use crate::columns::{Boxes, Ints};
use crate::geometry::BoxSet;
use crate::input::{self, Result, fail};

/// One run's boxes and the image each is on.
#[derive(Clone, Copy, Debug)]
pub struct Side<'a> {
    pub images: Ints<'a>,
    pub boxes: Boxes<'a>,
}

/// A side's rows as (image id, index), sorted: grouped by image, each image's in order.
type Rows = Vec<(i64, usize)>;

impl Side<'_> {
    /// Checks the shapes and the boxes; `images` and `boxes` name the arguments.
    fn check(&self, images: &str, boxes: &str) -> Result<()> {
        input::check_table(boxes, self.boxes, &[(images, self.images.len())])?;
        input::check_boxes(boxes, self.boxes)
    }

    fn rows(&self) -> Rows {
        let mut rows: Rows = (0..self.boxes.len())
            .map(|i| (self.images.get(i), i))
            .collect();
        rows.sort_unstable();
        rows
    }
}

/// Pairs the boxes of `a` with those of `b` on the same image: on each image, repeatedly the
/// pair with the highest IoU `>= iou_threshold` (ties to the lowest index in `a`, then in
/// `b`, as `np.argmax` over the IoU matrix), until no pair of boxes both still unpaired
/// reaches it. Returns the pairs' indices into `a` and into `b`, ordered by index in `a`.
pub fn pair_boxes(a: Side<'_>, b: Side<'_>, iou_threshold: f64) -> Result<(Vec<i64>, Vec<i64>)> {
    a.check("image_a", "boxes_a")?;
    b.check("image_b", "boxes_b")?;
    if !(iou_threshold > 0.0 && iou_threshold <= 1.0) {
        return fail(format!(
            "iou_threshold: expected 0 < iou_threshold <= 1, got {iou_threshold}"
        ));
    }
    let (rows_a, rows_b) = rayon::join(|| a.rows(), || b.rows());
    let mut pairs: Vec<(usize, usize)> = common_images(&rows_a, &rows_b)
        .into_par_iter()
        .map_init(Scratch::default, |s, (ra, rb)| {
            s.pair_image(&rows_a[ra], &rows_b[rb], (a.boxes, b.boxes), iou_threshold)
        })
        .flatten_iter()
        .collect();
    pairs.sort_unstable();
    Ok(pairs.into_iter().map(|(i, j)| (i as i64, j as i64)).unzip())
}

/// The images with boxes on both sides: for each, its range in `a` and in `b`.
fn common_images(a: &[(i64, usize)], b: &[(i64, usize)]) -> Vec<(Range<usize>, Range<usize>)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            Ordering::Less => i = image_end(a, i),
            Ordering::Greater => j = image_end(b, j),
            Ordering::Equal => {
                let (end_a, end_b) = (image_end(a, i), image_end(b, j));
                out.push((i..end_a, j..end_b));
                (i, j) = (end_a, end_b);
            }
        }
    }
    out
}

/// The end of the rows on the image of row `i`.
fn image_end(rows: &[(i64, usize)], i: usize) -> usize {
    i + rows[i..].iter().take_while(|r| r.0 == rows[i].0).count()
}

/// Per-thread buffers reused from image to image.
#[derive(Default)]
struct Scratch {
    boxes_b: BoxSet,
    row: Vec<f64>,
    /// (IoU, position in a, position in b) of the pairs reaching the threshold.
    candidates: Vec<(f64, usize, usize)>,
    paired_a: Vec<bool>,
    paired_b: Vec<bool>,
}

impl Scratch {
    /// The greedy pairing of one image's rows of each side (global indices).
    fn pair_image(
        &mut self,
        rows_a: &[(i64, usize)],
        rows_b: &[(i64, usize)],
        (a, b): (Boxes<'_>, Boxes<'_>),
        threshold: f64,
    ) -> Vec<(usize, usize)> {
        self.boxes_b.clear();
        rows_b
            .iter()
            .for_each(|&(_, j)| self.boxes_b.push(b.get(j)));
        self.candidates.clear();
        for (pa, &(_, i)) in rows_a.iter().enumerate() {
            self.boxes_b.ious_into(&a.get(i), &mut self.row);
            let reaching = self.row.iter().enumerate().filter(|p| *p.1 >= threshold);
            self.candidates
                .extend(reaching.map(|(pb, &value)| (value, pa, pb)));
        }
        // Highest IoU first; equal IoUs in the order of the IoU matrix, row-major.
        self.candidates
            .sort_unstable_by(|x, y| (y.0.total_cmp(&x.0)).then((x.1, x.2).cmp(&(y.1, y.2))));
        self.paired_a.clear();
        self.paired_a.resize(rows_a.len(), false);
        self.paired_b.clear();
        self.paired_b.resize(rows_b.len(), false);
        let mut pairs = Vec::new();
        for &(_, pa, pb) in &self.candidates {
            if !self.paired_a[pa] && !self.paired_b[pb] {
                (self.paired_a[pa], self.paired_b[pb]) = (true, true);
                pairs.push((rows_a[pa].1, rows_b[pb].1));
            }
        }
        pairs
    }
}

#[cfg(test)]
#[path = "pairing_tests.rs"]
mod tests;
