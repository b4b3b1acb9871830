//! Box area and intersection over union, as SPEC §4 and pycocotools compute them.

/// Area of an x1 y1 x2 y2 box, continuous coordinates (no +1).
#[inline]
pub fn area(b: &[f64; 4]) -> f64 {
    (b[2] - b[0]) * (b[3] - b[1])
}

/// IoU of `a` and `b` given their areas; a box pair without overlap (or a zero union) gives 0.
///
/// The operations and their order are those of pycocotools' `bbIou`, so that equal inputs give
/// bit-identical IoUs (the AP tests depend on it).
#[inline]
pub fn iou(a: &[f64; 4], area_a: f64, b: &[f64; 4], area_b: f64) -> f64 {
    let w = a[2].min(b[2]) - a[0].max(b[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = a[3].min(b[3]) - a[1].max(b[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let inter = w * h;
    let union = area_a + area_b - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iou_of(a: [f64; 4], b: [f64; 4]) -> f64 {
        iou(&a, area(&a), &b, area(&b))
    }

    #[test]
    fn identical_boxes_have_iou_one() {
        assert_eq!(iou_of([1.0, 2.0, 5.0, 7.0], [1.0, 2.0, 5.0, 7.0]), 1.0);
    }

    #[test]
    fn half_overlap() {
        assert_eq!(iou_of([0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0]), 0.5);
    }

    #[test]
    fn touching_and_disjoint_boxes_have_iou_zero() {
        assert_eq!(iou_of([0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]), 0.0);
        assert_eq!(iou_of([0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]), 0.0);
    }

    #[test]
    fn zero_area_boxes_have_iou_zero() {
        assert_eq!(iou_of([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]), 0.0);
        assert_eq!(iou_of([0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, 2.0]), 0.0);
    }

    #[test]
    fn iou_is_symmetric() {
        let (a, b) = ([0.5, 1.25, 7.0, 3.0], [2.0, 0.0, 9.5, 2.75]);
        assert_eq!(iou_of(a, b), iou_of(b, a));
        assert!((iou_of(a, b) - 7.5 / (11.375 + 20.625 - 7.5)).abs() < 1e-15);
    }
}
