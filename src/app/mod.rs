//! The core: `State`, `Msg`, `Effect` and `State::update` — the only mutator of the cockpit's state,
//! deterministic and free of clocks, sockets and files — and the staged-order lifecycle table.

mod agents;
mod engine;
mod lifecycle;
mod lock;
mod msg;
mod positions;
mod recover;
pub mod screen;
pub mod shell;
mod state;
mod update;

pub use agents::{AgentMsg, AgentView, DEFAULT_HEARTBEAT_SECS, Recommendation};
pub use engine::{BrokerPort, Engine, EngineError, SYNC_DEADLINE, failpoint};
pub use lifecycle::{End, LifecycleError, Stage, Step, next};
pub use lock::{EXIT_LOCKED, LOCK_FILE, LockError, StateLock};
pub use msg::{
    BrokerEvent, BrokerPosition, Connection, Effect, GLOBAL_CANCEL_READ_BACK, JournalRecord, Msg, PlaceOrder,
    Source,
};
pub use positions::{Baseline, PositionWatch};
pub use state::{
    APPROVAL_TTL_SECS, DEFAULT_CUSHION_WARNING, MAINT_MARGIN_JUMP, PLACE_DEADLINE_SECS, Proposal, State,
};

#[cfg(test)]
mod tests;
