//! Scheduled work, one file per job, each bounded per run.

pub mod purge;
pub mod rotate_keys;
