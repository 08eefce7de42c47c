//! Background work, one file per job, each bounded per run. Scheduled jobs take their turn
//! through the store (`JobRepo::take_turn`), so of several processes one runs each turn;
//! queued jobs (`queue`) are leased to one process at a time.

pub mod purge;
pub mod queue;
pub mod rotate_keys;
pub mod webhooks;
