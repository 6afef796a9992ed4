//! Cockpit: a terminal cockpit for supervised agentic trading on Interactive Brokers.
//!
//! Layout (see `../shared/ARCHITECTURE.md` §3):
//! - [`domain`]: the shared vocabulary — ids, sides, order types, TIF, money, the order-status table.
//! - [`sim`]: an IB Gateway simulator speaking the TWS API wire protocol; shares no code with `domain`.
//! - [`cli`]: the command line and the dispatch of subcommands.
//! - [`logging`]: `tracing` into the state dir's `logs/`, never to the terminal.
//! - [`paths`]: where the state dir and config live.
//! - [`report`]: `cockpit report`, the daily activity report read from the journal.
//! - [`terminal`]: the panic hook that restores the terminal, then aborts.

pub mod agent;
pub mod app;
pub mod broker;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod journal;
pub mod logging;
pub mod paths;
pub mod policy;
pub mod report;
pub mod sim;
pub mod terminal;
pub mod tui;
pub mod ui;
