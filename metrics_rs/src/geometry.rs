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

/// `a < b ? a : b`: the same value as `fmin` for finite input, and it vectorises (minpd).
#[inline(always)]
fn min(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

#[inline(always)]
fn max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

/// Boxes stored column-wise, for computing one box's IoU with all of them at once.
#[derive(Clone, Debug, Default)]
pub struct BoxSet {
    x1: Vec<f64>,
    y1: Vec<f64>,
    x2: Vec<f64>,
    y2: Vec<f64>,
    area: Vec<f64>,
}

impl BoxSet {
    #[inline]
    fn columns_mut(&mut self) -> [&mut Vec<f64>; 5] {
        [
            &mut self.x1,
            &mut self.y1,
            &mut self.x2,
            &mut self.y2,
            &mut self.area,
        ]
    }

    pub fn clear(&mut self) {
        self.columns_mut().into_iter().for_each(Vec::clear);
    }

    pub fn push(&mut self, b: [f64; 4]) {
        self.x1.push(b[0]);
        self.y1.push(b[1]);
        self.x2.push(b[2]);
        self.y2.push(b[3]);
        self.area.push(area(&b));
    }

    pub fn extend(&mut self, boxes: &[[f64; 4]]) {
        for &b in boxes {
            self.push(b);
        }
    }

    /// Box `i` (x1 y1 x2 y2).
    pub fn get(&self, i: usize) -> [f64; 4] {
        [self.x1[i], self.y1[i], self.x2[i], self.y2[i]]
    }

    /// Makes room for exactly `n` boxes, to be written with [`BoxSet::set`].
    pub fn reset(&mut self, n: usize) {
        for v in self.columns_mut() {
            v.clear();
            v.resize(n, 0.0);
        }
    }

    #[inline]
    pub fn set(&mut self, i: usize, b: [f64; 4]) {
        self.x1[i] = b[0];
        self.y1[i] = b[1];
        self.x2[i] = b[2];
        self.y2[i] = b[3];
        self.area[i] = area(&b);
    }

    pub fn len(&self) -> usize {
        self.area.len()
    }

    pub fn is_empty(&self) -> bool {
        self.area.is_empty()
    }

    /// Areas of the boxes, in order.
    pub fn areas(&self) -> &[f64] {
        &self.area
    }

    /// `out[j] = iou(b, box j)`, bit-identical to [`iou`] for finite boxes, without branches.
    pub fn ious_into(&self, b: &[f64; 4], out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.len(), 0.0);
        self.ious_into_slice(b, out);
    }

    /// As [`BoxSet::ious_into`], into a slice of exactly `len()` values.
    ///
    /// Without overlap one clamped side is 0, so the intersection is 0 and the IoU 0 (or the
    /// union is 0 and the IoU 0); with overlap the operations are those of [`iou`] (which is
    /// symmetric: min, max and the sum of the areas commute exactly).
    pub fn ious_into_slice(&self, b: &[f64; 4], out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above). The same IEEE operations run four
            // lanes wide, with no fused multiply-add, so the results are bit-identical.
            unsafe { self.ious_avx2(b, out) };
            return;
        }
        self.ious_portable(b, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn ious_avx2(&self, b: &[f64; 4], out: &mut [f64]) {
        self.ious_portable(b, out);
    }

    #[inline(always)]
    fn ious_portable(&self, b: &[f64; 4], out: &mut [f64]) {
        let a = area(b);
        let n = self.len().min(out.len());
        // Equal-length slices and an index loop: no bounds checks, and it vectorises.
        let (x1, y1, x2, y2, ga) = (
            &self.x1[..n],
            &self.y1[..n],
            &self.x2[..n],
            &self.y2[..n],
            &self.area[..n],
        );
        let out = &mut out[..n];
        for j in 0..n {
            let w = max(min(b[2], x2[j]) - max(b[0], x1[j]), 0.0);
            let h = max(min(b[3], y2[j]) - max(b[1], y1[j]), 0.0);
            let inter = w * h;
            let union = a + ga[j] - inter;
            out[j] = if union > 0.0 { inter / union } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_set_equals_scalar_iou_bit_for_bit() {
        // A deterministic spread of boxes: overlapping, touching, nested, zero-area, far.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 2000) as f64 / 64.0
        };
        let mut boxes = Vec::new();
        for i in 0..400 {
            let (x, y) = (next(), next());
            let (w, h) = if i % 7 == 0 {
                (0.0, next())
            } else {
                (next(), next())
            };
            boxes.push([x, y, x + w, y + h]);
        }
        let mut set = BoxSet::default();
        boxes[..40].iter().for_each(|&b| set.push(b));
        let (mut out, mut portable) = (Vec::new(), vec![0.0; 40]);
        for b in &boxes {
            set.ious_into(b, &mut out);
            set.ious_portable(b, &mut portable);
            assert_eq!(out, portable);
            for (j, g) in boxes[..40].iter().enumerate() {
                assert_eq!(out[j].to_bits(), iou(b, area(b), g, area(g)).to_bits());
                assert_eq!(out[j].to_bits(), iou(g, area(g), b, area(b)).to_bits());
            }
        }
    }

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
