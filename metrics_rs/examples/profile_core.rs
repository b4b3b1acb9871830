//! Times the plain-Rust core on a synthetic run (no Python): `cargo run --release --example
//! profile_core --no-default-features [images] [repeats] [sorted 1|0]`, for perf or cachegrind.

use std::time::Instant;

use metrics_rs::input::OwnedRun;
use metrics_rs::matching::{Thresholds, evaluate};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (images, repeats, labels) = (
        args.first().copied().unwrap_or(5000),
        args.get(1).copied().unwrap_or(20),
        80,
    );
    let sorted = args.get(2).copied().unwrap_or(1) == 1;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut gb, mut gl, mut go) = (Vec::new(), Vec::new(), vec![0_i64]);
    let (mut pb, mut pl, mut ps, mut po) = (Vec::new(), Vec::new(), Vec::new(), vec![0_i64]);
    for _ in 0..images {
        let first = gl.len();
        for _ in 0..(5.0 + rng.next() * 10.0) as usize {
            let (w, h) = (8.0 + rng.next() * 112.0, 8.0 + rng.next() * 112.0);
            let (x, y) = (rng.next() * (640.0 - w), rng.next() * (480.0 - h));
            gb.extend([x, y, x + w, y + h]);
            gl.push((rng.next() * labels as f64) as i64);
        }
        go.push(gl.len() as i64);
        for _ in 0..(40.0 + rng.next() * 20.0) as usize {
            let n = gl.len() - first;
            if n > 0 && rng.next() < 0.6 {
                let g = first + (rng.next() * n as f64) as usize;
                let b = &gb[4 * g..4 * g + 4];
                let d = (b[2] - b[0]) * 0.1 * (rng.next() - 0.5);
                pb.extend([b[0] + d, b[1] - d, b[2] + d, b[3] + d.abs()]);
                pl.push(gl[g]);
                ps.push(0.3 + 0.7 * rng.next());
            } else {
                let (w, h) = (8.0 + rng.next() * 112.0, 8.0 + rng.next() * 112.0);
                let (x, y) = (rng.next() * (640.0 - w), rng.next() * (480.0 - h));
                pb.extend([x, y, x + w, y + h]);
                pl.push((rng.next() * labels as f64) as i64);
                ps.push(rng.next() * 0.5);
            }
        }
        if sorted {
            // As a detector emits them: best first.
            let first = po[po.len() - 1] as usize;
            let mut idx: Vec<usize> = (first..pl.len()).collect();
            idx.sort_by(|&a, &b| ps[b].total_cmp(&ps[a]));
            let (b0, l0, s0) = (pb.clone(), pl.clone(), ps.clone());
            for (k, &i) in idx.iter().enumerate() {
                pb[4 * (first + k)..4 * (first + k) + 4].copy_from_slice(&b0[4 * i..4 * i + 4]);
                pl[first + k] = l0[i];
                ps[first + k] = s0[i];
            }
        }
        po.push(pl.len() as i64);
    }
    rayon::join(|| (), || ()); // start the pool outside the timings
    let validation = Instant::now();
    let run = OwnedRun {
        gt_boxes: gb,
        gt_labels: gl,
        gt_offsets: go,
        pred_boxes: pb,
        pred_labels: pl,
        pred_scores: ps,
        pred_offsets: po,
    };
    let ds = run.dataset(labels as i64).expect("valid synthetic run");
    let validation = validation.elapsed().as_secs_f64();
    let thresholds = vec![0.3; labels];
    let th = Thresholds {
        labels: &thresholds,
        iou: 0.5,
        low: 0.7,
    };
    let start = Instant::now();
    let mut cells = 0;
    for _ in 0..repeats {
        cells += evaluate(&ds, &th).matrix.iter().sum::<i64>();
    }
    let per = start.elapsed().as_secs_f64() / repeats as f64;
    println!(
        "{} predictions: {:.2} ms per evaluate ({cells} cells), {:.2} ms validation",
        run.pred_labels.len(),
        per * 1e3,
        validation * 1e3
    );
}
