//! metrics_rs: exact, parallel matching, confusion matrix, metrics and COCO AP (SPEC §4).
//!
//! The core modules are plain Rust over borrowed arrays; `python` (feature `python`, on by
//! default) only wires them to NumPy.

pub mod coco;
mod coco_fast;
pub mod coco_files;
mod coco_json;
mod coco_records;
pub mod columns;
pub mod geometry;
pub mod input;
pub mod line;
pub mod line_sweep;
pub mod matching;
pub mod metrics;
pub mod pairing;
pub mod sweep;

#[cfg(feature = "python")]
mod python;
