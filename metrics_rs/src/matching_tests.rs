//! Tests of `matching`: SPEC §4.1–4.4 cases, and every path against a literal reading.

use super::image::MATRIX_LIMIT;
use super::*;
use crate::input::tests::Owned;

const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];

fn run(owned: &Owned, labels: &[f64], iou: f64, low: f64) -> Evaluation {
    let ds = owned.dataset(labels.len() as i64).unwrap();
    evaluate(&ds, &Thresholds { labels, iou, low })
}

fn cell(ev: &Evaluation, row: usize, col: usize) -> i64 {
    ev.matrix[row * ev.cols() + col]
}

#[test]
fn descending_key_orders_scores_high_to_low() {
    let scores = [1.0, 0.5, 0.25, 1e-300, 0.0, -0.0, -1e-300, -0.5, -3.0];
    for w in scores.windows(2) {
        assert!(descending_key(w[0]) <= descending_key(w[1]), "{w:?}");
    }
    assert_eq!(descending_key(0.0), descending_key(-0.0));
    assert!(descending_key(0.5) < descending_key(0.25));
}

#[test]
fn exact_match_is_true_positive() {
    let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 0, 0.9)])]);
    let ev = run(&owned, &[0.5, 0.5], 0.5, 0.5);
    assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE]);
    assert_eq!(ev.pred_gt, vec![0]);
    assert_eq!(ev.pred_iou, vec![1.0]);
    assert_eq!(ev.gt_pred, vec![0]);
    assert_eq!(cell(&ev, 0, 0), 1);
    assert_eq!(ev.tp(), vec![1, 0]);
    assert_eq!(ev.pred_count(), vec![1, 0]);
}

#[test]
fn below_confidence_is_dropped_and_annotation_missed() {
    let owned = Owned::new(&[(vec![(A, 1)], vec![(A, 1, 0.3)])]);
    let ev = run(&owned, &[0.1, 0.4], 0.5, 0.5);
    assert_eq!(ev.pred_kind, vec![DROPPED]);
    assert_eq!(ev.pred_gt, vec![DROPPED_INDEX]);
    assert_eq!(ev.gt_pred, vec![UNMATCHED]);
    assert_eq!(cell(&ev, 2, 1), 1);
    assert_eq!(ev.matrix.iter().sum::<i64>(), 1);
}

#[test]
fn same_label_beats_higher_iou_of_another_label() {
    let near = [0.0, 0.0, 10.0, 9.0]; // IoU 0.9 with A
    let owned = Owned::new(&[(vec![(A, 1), (near, 0)], vec![(A, 0, 0.9)])]);
    let ev = run(&owned, &[0.0, 0.0], 0.5, 0.5);
    assert_eq!(ev.pred_gt, vec![1]);
    assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE]);
    assert_eq!(cell(&ev, 2, 1), 1, "the other annotation is missed");
}

#[test]
fn confusion_and_loc() {
    let half = [0.0, 0.0, 10.0, 6.0]; // IoU 0.6 with A
    let owned = Owned::new(&[(vec![(A, 1), (A, 0)], vec![(A, 0, 0.9), (half, 0, 0.8)])]);
    let ev = run(&owned, &[0.0, 0.0], 0.5, 0.7);
    // first prediction takes the same-label annotation; second has only the label-1 one at 0.6
    assert_eq!(ev.pred_gt, vec![1, 0]);
    assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE, LOC]);
    assert_eq!(cell(&ev, 0, 3), 1);
    assert_eq!(ev.gt_pred, vec![1, 0]);
    let owned = Owned::new(&[(vec![(A, 1)], vec![(A, 0, 0.9)])]);
    let ev = run(&owned, &[0.0, 0.0], 0.5, 0.7);
    assert_eq!(ev.pred_kind, vec![CONFUSION]);
    assert_eq!(cell(&ev, 0, 1), 1);
}

#[test]
fn duplicate_versus_background() {
    let far = [50.0, 50.0, 60.0, 60.0];
    let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 0, 0.5), (A, 0, 0.9), (far, 0, 0.7)])]);
    let ev = run(&owned, &[0.0], 0.5, 0.5);
    assert_eq!(ev.pred_kind, vec![DUPLICATE, TRUE_POSITIVE, BACKGROUND]);
    assert_eq!(ev.pred_gt, vec![UNMATCHED, 0, UNMATCHED]);
    assert_eq!(ev.gt_pred, vec![1]);
    assert_eq!(cell(&ev, 0, 1), 2);
}

#[test]
fn equal_scores_visit_in_emission_order_and_equal_iou_takes_first_annotation() {
    let owned = Owned::new(&[(vec![(A, 0), (A, 0)], vec![(A, 0, 0.5), (A, 0, 0.5)])]);
    let ev = run(&owned, &[0.0], 0.5, 0.5);
    assert_eq!(ev.pred_gt, vec![0, 1]);
    assert_eq!(ev.gt_pred, vec![0, 1]);
}

#[test]
fn indices_are_global_across_images() {
    let owned = Owned::new(&[
        (vec![(A, 0)], vec![]),
        (vec![], vec![(A, 0, 0.9)]),
        (vec![(A, 0), (A, 0)], vec![(A, 0, 0.2), (A, 0, 0.9)]),
    ]);
    let ev = run(&owned, &[0.0], 0.5, 0.5);
    assert_eq!(ev.pred_gt, vec![UNMATCHED, 2, 1]);
    assert_eq!(ev.gt_pred, vec![UNMATCHED, 2, 1]);
    assert_eq!(ev.pred_kind, vec![BACKGROUND, TRUE_POSITIVE, TRUE_POSITIVE]);
    assert_eq!(ev.matrix, vec![2, 1, 0, 1, 0, 0]);
}

#[test]
fn low_overlap_of_one_needs_identical_boxes() {
    let near = [0.0, 0.0, 10.0, 9.0];
    let owned = Owned::new(&[(vec![(A, 0)], vec![(near, 0, 0.9)])]);
    let ev = run(&owned, &[0.0], 0.5, 1.0);
    assert_eq!(ev.pred_kind, vec![LOC]);
}

#[test]
fn images_with_more_than_64_annotations_match_the_same_way() {
    // The 70th annotation is the only same-label one; the others are exact but label 1.
    let mut gts: Vec<([f64; 4], i64)> = (0..69).map(|_| (A, 1)).collect();
    gts.push((A, 0));
    let owned = Owned::new(&[(gts, vec![(A, 0, 0.9), (A, 0, 0.8), (A, 1, 0.7)])]);
    let ev = run(&owned, &[0.0, 0.0], 0.5, 0.5);
    assert_eq!(ev.pred_gt, vec![69, 0, 1]);
    assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE, CONFUSION, TRUE_POSITIVE]);
    assert_eq!(cell(&ev, 2, 1), 67);
}

/// SPEC §4.1–4.4 read literally, one image, for comparison.
fn naive(owned: &Owned, labels: &[f64], iou: f64, low: f64) -> (Vec<i64>, Vec<i8>) {
    let n = owned.gt_labels.len();
    let gt = |j: usize| -> [f64; 4] { owned.gt_boxes[4 * j..4 * j + 4].try_into().unwrap() };
    let m = owned.pred_labels.len();
    let mut kept: Vec<usize> = (0..m)
        .filter(|&i| owned.pred_scores[i] >= labels[owned.pred_labels[i] as usize])
        .collect();
    kept.sort_by(|&a, &b| owned.pred_scores[b].total_cmp(&owned.pred_scores[a]));
    let (mut pred_gt, mut kind) = (vec![DROPPED_INDEX; m], vec![DROPPED; m]);
    let mut taken = vec![false; n];
    for i in kept {
        let b: [f64; 4] = owned.pred_boxes[4 * i..4 * i + 4].try_into().unwrap();
        let v: Vec<f64> = (0..n)
            .map(|j| {
                crate::geometry::iou(
                    &b,
                    crate::geometry::area(&b),
                    &gt(j),
                    crate::geometry::area(&gt(j)),
                )
            })
            .collect();
        let label = owned.pred_labels[i];
        let pick = |ok: &dyn Fn(usize) -> bool| {
            (0..n).filter(|&j| !taken[j] && v[j] >= iou && ok(j)).fold(
                None,
                |best: Option<usize>, j| match best {
                    Some(k) if v[k] >= v[j] => Some(k),
                    _ => Some(j),
                },
            )
        };
        let choice = pick(&|j| v[j] >= low && owned.gt_labels[j] == label)
            .or_else(|| pick(&|j| v[j] >= low))
            .or_else(|| pick(&|_| true));
        match choice {
            Some(j) => {
                taken[j] = true;
                pred_gt[i] = j as i64;
                kind[i] = if v[j] < low {
                    LOC
                } else if owned.gt_labels[j] == label {
                    TRUE_POSITIVE
                } else {
                    CONFUSION
                };
            }
            None => {
                pred_gt[i] = UNMATCHED;
                kind[i] = if (0..n).any(|j| v[j] >= iou) {
                    DUPLICATE
                } else {
                    BACKGROUND
                };
            }
        }
    }
    (pred_gt, kind)
}

fn random_image(gts: usize, preds: usize, seed: u64) -> Owned {
    let mut state = seed;
    let mut next = move |k: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % k) as f64
    };
    let mut boxes = |count: usize, labelled: &mut dyn FnMut() -> i64| {
        (0..count)
            .map(|_| {
                let (x, y, w, h) = (next(40), next(40), next(8), next(8));
                ([x, y, x + w, y + h], labelled())
            })
            .collect::<Vec<_>>()
    };
    let mut label_rng = 0_i64;
    let annotations = boxes(gts, &mut || {
        label_rng = (label_rng * 7 + 3) % 3;
        label_rng
    });
    let predictions = boxes(preds, &mut || {
        label_rng = (label_rng * 5 + 1) % 3;
        label_rng
    })
    .into_iter()
    .enumerate()
    .map(|(i, (b, l))| (b, l, ((i * 37) % 11) as f64 / 10.0))
    .collect();
    Owned::new(&[(annotations, predictions)])
}

#[test]
fn every_path_equals_the_literal_reading() {
    // g <= 64 (bit masks), g > 64 (scan), and k * g > MATRIX_LIMIT (row by row).
    for (gts, preds, seed) in [(12, 30, 1), (90, 120, 2), (1030, 1040, 3)] {
        let owned = random_image(gts, preds, seed);
        let (labels, iou, low) = ([0.0, 0.3, 0.5], 0.3, 0.6);
        let ev = run(&owned, &labels, iou, low);
        let (pred_gt, kind) = naive(&owned, &labels, iou, low);
        assert_eq!(ev.pred_gt, pred_gt, "{gts} annotations");
        assert_eq!(ev.pred_kind, kind, "{gts} annotations");
    }
    const { assert!(1030 * 1040 > MATRIX_LIMIT) };
}

#[test]
fn empty_run() {
    let owned = Owned::new(&[]);
    let ev = run(&owned, &[0.5, 0.5], 0.5, 0.5);
    assert_eq!(ev.matrix, vec![0; 12]);
    assert!(ev.pred_gt.is_empty() && ev.gt_pred.is_empty());
}
