//! SPEC §4.7: COCO AP per label, step for step as pycocotools' `COCOeval` (bbox, iscrowd = 0,
//! all areas, at most 100 detections per image and label, 101-point interpolation).

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::geometry::BoxSet;
use crate::input::Dataset;
use crate::matching::descending_key;

/// Detections kept per image and label (pycocotools `maxDets[-1]`).
pub const MAX_DETECTIONS: usize = 100;
/// IoU thresholds 0.50:0.05:0.95.
pub const NUM_IOU: usize = 10;
/// Recall thresholds 0:0.01:1.
pub const NUM_RECALL: usize = 101;

/// The IoU thresholds exactly as `np.linspace(.5, .95, 10)` computes them.
pub fn iou_thresholds() -> [f64; NUM_IOU] {
    let step = (0.95 - 0.5) / 9.0;
    let mut t = [0.0; NUM_IOU];
    for (i, v) in t.iter_mut().enumerate() {
        *v = i as f64 * step + 0.5;
    }
    t[NUM_IOU - 1] = 0.95;
    t
}

/// The recall thresholds exactly as `np.linspace(0, 1, 101)` computes them.
pub fn recall_thresholds() -> [f64; NUM_RECALL] {
    let mut r = [0.0; NUM_RECALL];
    for (i, v) in r.iter_mut().enumerate() {
        *v = i as f64 * 0.01 + 0.0;
    }
    r[NUM_RECALL - 1] = 1.0;
    r
}

/// One kept detection: its label, score and, per IoU threshold, whether it matched (bit t).
#[derive(Clone, Copy, Debug)]
struct Detection {
    label: usize,
    score: f64,
    matched: u16,
}

#[derive(Default)]
struct Scratch {
    /// (label, local index) of the image's annotations, sorted by label.
    gts: Vec<(usize, usize)>,
    /// (label, descending score key, local index) of its predictions, sorted.
    dets: Vec<(usize, u64, usize)>,
    same_label: BoxSet,
    row: Vec<f64>,
    ious: Vec<f64>,
    taken: Vec<bool>,
}

/// AP per label (row-major `num_labels x 10`), NaN for a label without annotations.
pub fn coco_ap(ds: &Dataset<'_>) -> Vec<f64> {
    let thresholds = iou_thresholds();
    let per_image: Vec<Vec<Detection>> = (0..ds.num_images())
        .into_par_iter()
        .with_min_len(16)
        .map_init(Scratch::default, |s, img| {
            match_image(ds, img, &thresholds, s)
        })
        .collect();
    let by_label = group_by_label(&per_image, ds.num_labels);
    let gt_count = ds.gt_count();
    let recalls = recall_thresholds();
    let mut ap = vec![f64::NAN; ds.num_labels * NUM_IOU];
    ap.par_chunks_mut(NUM_IOU)
        .zip(by_label.into_par_iter())
        .enumerate()
        .for_each(|(k, (row, mut dets))| {
            if gt_count[k] == 0 {
                return;
            }
            // Across images: score first, then image order (numpy's stable mergesort).
            dets.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
            for (t, value) in row.iter_mut().enumerate() {
                *value = average_precision(&dets, t, gt_count[k], &recalls);
            }
        });
    ap
}

/// Detections of each label in image order, each image's in its own visiting order.
fn group_by_label(per_image: &[Vec<Detection>], num_labels: usize) -> Vec<Vec<Detection>> {
    let mut counts = vec![0_usize; num_labels];
    per_image
        .iter()
        .flatten()
        .for_each(|d| counts[d.label] += 1);
    let mut by_label: Vec<Vec<Detection>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    per_image
        .iter()
        .flatten()
        .for_each(|d| by_label[d.label].push(*d));
    by_label
}

/// pycocotools `evaluateImg` for every label of one image.
fn match_image(
    ds: &Dataset<'_>,
    img: usize,
    thresholds: &[f64; NUM_IOU],
    s: &mut Scratch,
) -> Vec<Detection> {
    let (gts, preds) = (ds.gt_range(img), ds.pred_range(img));
    s.gts.clear();
    s.gts
        .extend(gts.clone().map(|g| (ds.gt_label(g), g - gts.start)));
    s.gts.sort_unstable();
    s.dets.clear();
    s.dets.extend(preds.clone().map(|p| {
        let key = descending_key(ds.pred.scores.get(p));
        (ds.pred_label(p), key, p - preds.start)
    }));
    s.dets.sort_unstable();
    let mut out = Vec::with_capacity(s.dets.len());
    let (mut start, mut g) = (0, 0);
    while start < s.dets.len() {
        let label = s.dets[start].0;
        let end = start + s.dets[start..].iter().take_while(|d| d.0 == label).count();
        while g < s.gts.len() && s.gts[g].0 < label {
            g += 1;
        }
        let g_end = g + s.gts[g..].iter().take_while(|t| t.0 == label).count();
        s.same_label.clear();
        for &(_, local) in &s.gts[g..g_end] {
            s.same_label.push(ds.gt.boxes.get(gts.start + local));
        }
        let kept = start..end.min(start + MAX_DETECTIONS);
        match_label(ds, preds.start, s, label, kept, thresholds, &mut out);
        start = end;
    }
    out
}

/// Greedy matching of one label's detections, per IoU threshold, as pycocotools does it:
/// the highest IoU wins and, among equal IoUs, the annotation listed last.
fn match_label(
    ds: &Dataset<'_>,
    first_pred: usize,
    s: &mut Scratch,
    label: usize,
    kept: std::ops::Range<usize>,
    thresholds: &[f64; NUM_IOU],
    out: &mut Vec<Detection>,
) {
    let g = s.same_label.len();
    s.ious.clear();
    let first = out.len();
    for &(_, _, local) in &s.dets[kept] {
        let p = first_pred + local;
        s.same_label.ious_into(&ds.pred.boxes.get(p), &mut s.row);
        s.ious.extend_from_slice(&s.row);
        out.push(Detection {
            label,
            score: ds.pred.scores.get(p),
            matched: 0,
        });
    }
    if g == 0 {
        return;
    }
    for (t, &threshold) in thresholds.iter().enumerate() {
        s.taken.clear();
        s.taken.resize(g, false);
        for (d, det) in out[first..].iter_mut().enumerate() {
            let mut best = threshold.min(1.0 - 1e-10);
            let mut m = None;
            for (j, &value) in s.ious[d * g..(d + 1) * g].iter().enumerate() {
                if s.taken[j] || value < best {
                    continue;
                }
                best = value;
                m = Some(j);
            }
            if let Some(j) = m {
                s.taken[j] = true;
                det.matched |= 1 << t;
            }
        }
    }
}

/// pycocotools `accumulate` for one label and IoU threshold: mean interpolated precision.
fn average_precision(dets: &[Detection], t: usize, npig: i64, recalls: &[f64]) -> f64 {
    let npig = npig as f64;
    let (mut tp, mut fp) = (0_u64, 0_u64);
    let mut rc = Vec::with_capacity(dets.len());
    let mut pr = Vec::with_capacity(dets.len());
    for d in dets {
        if d.matched & (1 << t) != 0 {
            tp += 1;
        } else {
            fp += 1;
        }
        let (tpf, fpf) = (tp as f64, fp as f64);
        rc.push(tpf / npig);
        pr.push(tpf / (fpf + tpf + f64::EPSILON));
    }
    for i in (1..pr.len()).rev() {
        if pr[i] > pr[i - 1] {
            pr[i - 1] = pr[i];
        }
    }
    let mut sum = 0.0;
    let mut i = 0;
    for &r in recalls {
        while i < rc.len() && rc[i] < r {
            i += 1;
        }
        if i == rc.len() {
            break;
        }
        sum += pr[i];
    }
    sum / NUM_RECALL as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::Owned;

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];
    const FAR: [f64; 4] = [50.0, 50.0, 60.0, 60.0];

    #[test]
    fn thresholds_equal_numpy_linspace_bits() {
        let t = iou_thresholds();
        assert_eq!(t[1].to_bits(), 0x3fe199999999999a);
        assert_eq!(t[3].to_bits(), 0x3fe4cccccccccccd);
        assert_eq!(t[8].to_bits(), 0x3feccccccccccccc);
        let r = recall_thresholds();
        assert_eq!(r[3].to_bits(), 0x3f9eb851eb851eb8);
        assert_eq!(r[7].to_bits(), 0x3fb1eb851eb851ec);
        assert_eq!(r[100], 1.0);
    }

    #[test]
    fn perfect_detections_give_ap_one_and_missing_labels_nan() {
        let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 0, 0.9)])]);
        let ap = coco_ap(&owned.dataset(2).unwrap());
        assert!(ap[..10].iter().all(|&v| (v - 1.0).abs() < 1e-12), "{ap:?}");
        assert!(ap[10..].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn annotations_without_detections_give_zero() {
        let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 1, 0.9)])]);
        let ap = coco_ap(&owned.dataset(2).unwrap());
        assert!(ap[..10].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn false_positive_ranked_first_halves_precision() {
        // FP at 0.9 then TP at 0.8: precision 0.5 at every recall threshold.
        let owned = Owned::new(&[(vec![(A, 0)], vec![(FAR, 0, 0.9), (A, 0, 0.8)])]);
        let ap = coco_ap(&owned.dataset(1).unwrap());
        let expected = 0.5 / (1.0 + 2.0 * f64::EPSILON) * 101.0 / 101.0;
        assert!(ap.iter().all(|&v| (v - expected).abs() < 1e-12), "{ap:?}");
    }

    #[test]
    fn only_the_best_hundred_detections_per_image_and_label_count() {
        let mut preds: Vec<([f64; 4], i64, f64)> = (0..100).map(|_| (FAR, 0, 0.9)).collect();
        preds.push((A, 0, 0.1));
        let owned = Owned::new(&[(vec![(A, 0)], preds)]);
        let ap = coco_ap(&owned.dataset(1).unwrap());
        assert!(ap.iter().all(|&v| v == 0.0), "{ap:?}");
    }
}
