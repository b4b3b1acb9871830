//! Tests of `pairing`: the greedy order, its ties, images apart, bad input, and random runs
//! against a literal repeated argmax over each image's IoU matrix.

use super::*;
use crate::geometry::{area, iou};

const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];

fn side<'a>(images: &'a [i64], boxes: &'a [f64], cols: usize) -> Side<'a> {
    Side {
        images: Ints::Wide(images),
        boxes: Boxes::f64(boxes, cols),
    }
}

/// Pairs of boxes given as (image id, box) per side.
fn pairs(a: &[(i64, [f64; 4])], b: &[(i64, [f64; 4])], threshold: f64) -> Result<Vec<(i64, i64)>> {
    let flat = |side: &[(i64, [f64; 4])]| -> (Vec<i64>, Vec<f64>) {
        (
            side.iter().map(|r| r.0).collect(),
            side.iter().flat_map(|r| r.1).collect(),
        )
    };
    let ((ia, ba), (ib, bb)) = (flat(a), flat(b));
    let (pa, pb) = pair_boxes(side(&ia, &ba, 4), side(&ib, &bb, 4), threshold)?;
    Ok(pa.into_iter().zip(pb).collect())
}

/// `A` shrunk to height `h`: IoU `h / 10` with `A`.
fn short(h: f64) -> [f64; 4] {
    [0.0, 0.0, 10.0, h]
}

#[test]
fn the_highest_iou_is_paired_first() {
    // a0's best is b1 (0.9), but a1-b1 (1.0) comes first; a0 then takes b0 (2/3).
    let a = [(1, short(9.0)), (1, A)];
    let b = [(1, short(6.0)), (1, A)];
    assert_eq!(pairs(&a, &b, 0.5).unwrap(), [(0, 0), (1, 1)]);
    // a1-b0 (1.0) beats a0-b0 (0.8): a0 stays unpaired.
    let a = [(1, short(8.0)), (1, A)];
    assert_eq!(pairs(&a, &[(1, A)], 0.5).unwrap(), [(1, 0)]);
}

#[test]
fn equal_ious_go_to_the_lowest_index_in_a_then_in_b() {
    assert_eq!(pairs(&[(3, A), (3, A)], &[(3, A)], 0.5).unwrap(), [(0, 0)]);
    assert_eq!(pairs(&[(3, A)], &[(3, A), (3, A)], 0.5).unwrap(), [(0, 0)]);
    let four = [(3, A), (3, A)];
    assert_eq!(pairs(&four, &four, 0.5).unwrap(), [(0, 0), (1, 1)]);
}

#[test]
fn boxes_pair_only_on_the_same_image_and_come_ordered_by_a() {
    let a = [(9, A), (-4, A), (9, short(7.0))];
    let b = [(9, short(7.0)), (5, A), (-4, A), (9, A)];
    assert_eq!(pairs(&a, &b, 0.5).unwrap(), [(0, 3), (1, 2), (2, 0)]);
}

#[test]
fn the_threshold_is_inclusive_and_zero_overlap_never_pairs() {
    assert_eq!(pairs(&[(0, A)], &[(0, short(5.0))], 0.5).unwrap(), [(0, 0)]);
    assert!(
        pairs(&[(0, A)], &[(0, short(4.0))], 0.5)
            .unwrap()
            .is_empty()
    );
    let point = [2.0, 2.0, 2.0, 2.0];
    assert!(
        pairs(&[(0, point)], &[(0, point)], 1e-12)
            .unwrap()
            .is_empty()
    );
    let beside = [10.0, 0.0, 20.0, 10.0];
    assert!(pairs(&[(0, A)], &[(0, beside)], 1e-12).unwrap().is_empty());
}

#[test]
fn empty_sides_have_no_pairs() {
    assert!(pairs(&[], &[(0, A)], 0.5).unwrap().is_empty());
    assert!(pairs(&[(0, A)], &[], 0.5).unwrap().is_empty());
    assert!(pairs(&[], &[], 0.5).unwrap().is_empty());
}

#[test]
fn bad_input_names_the_argument() {
    let e = pairs(&[(0, [0.0, 0.0, f64::NAN, 1.0])], &[], 0.5)
        .unwrap_err()
        .0;
    assert_eq!(e, "boxes_a[0]: [0, 0, NaN, 1] is not finite");
    let e = pairs(&[], &[(0, [0.0, 0.0, -1.0, 1.0])], 0.5)
        .unwrap_err()
        .0;
    assert_eq!(e, "boxes_b[0]: [0, 0, -1, 1] is x2 < x1 or y2 < y1");
    for threshold in [0.0, -0.5, 1.5, f64::NAN] {
        let e = pairs(&[], &[], threshold).unwrap_err().0;
        assert!(
            e.starts_with("iou_threshold: expected 0 < iou_threshold <= 1"),
            "{e}"
        );
    }
    let (images, boxes) = ([1_i64, 2], [0.0; 4]);
    let a = side(&images, &boxes, 4);
    let e = pair_boxes(a, a, 0.5).unwrap_err().0;
    assert_eq!(
        e,
        "image_a: expected 1 values (one per rows of boxes_a), got 2"
    );
    let b = side(&images[..1], &boxes, 2);
    let e = pair_boxes(b, b, 0.5).unwrap_err().0;
    assert_eq!(e, "boxes_a: expected shape (N, 4), got (2, 2)");
}

/// The numpy greedy read literally: per image, the IoU matrix; repeatedly its first maximum
/// (row-major), while it reaches the threshold, that row and column then set to -1.
fn literal(a: &[(i64, [f64; 4])], b: &[(i64, [f64; 4])], threshold: f64) -> Vec<(i64, i64)> {
    let mut images: Vec<i64> = a.iter().map(|r| r.0).collect();
    images.sort_unstable();
    images.dedup();
    let mut out = Vec::new();
    for image in images {
        let ia: Vec<usize> = (0..a.len()).filter(|&i| a[i].0 == image).collect();
        let ib: Vec<usize> = (0..b.len()).filter(|&j| b[j].0 == image).collect();
        let (x, y) = (|i: usize| a[ia[i]].1, |j: usize| b[ib[j]].1);
        let mut m: Vec<Vec<f64>> = (0..ia.len())
            .map(|i| {
                (0..ib.len())
                    .map(|j| iou(&x(i), area(&x(i)), &y(j), area(&y(j))))
                    .collect()
            })
            .collect();
        loop {
            let cells = (0..ia.len()).flat_map(|i| (0..ib.len()).map(move |j| (i, j)));
            let best = cells.fold(None, |best: Option<(usize, usize)>, (i, j)| match best {
                Some((bi, bj)) if m[bi][bj] >= m[i][j] => best,
                _ => Some((i, j)),
            });
            let Some((i, j)) = best.filter(|&(i, j)| m[i][j] >= threshold) else {
                break;
            };
            out.push((ia[i] as i64, ib[j] as i64));
            m[i].iter_mut().for_each(|v| *v = -1.0);
            m.iter_mut().for_each(|r| r[j] = -1.0);
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn random_runs_equal_the_literal_greedy() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |k: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % k
    };
    for round in 0..300 {
        // A coarse grid: equal IoUs, nested and zero-area boxes are common.
        let mut side = |n: u64| -> Vec<(i64, [f64; 4])> {
            (0..next(n))
                .map(|_| {
                    let (x, y) = (next(5) as f64, next(5) as f64);
                    (
                        next(3) as i64,
                        [x, y, x + next(4) as f64, y + next(4) as f64],
                    )
                })
                .collect()
        };
        let (a, b) = (side(12), side(12));
        let threshold = [0.1, 0.25, 0.5, 1.0][round % 4];
        assert_eq!(
            pairs(&a, &b, threshold).unwrap(),
            literal(&a, &b, threshold),
            "{a:?} {b:?}"
        );
    }
}
