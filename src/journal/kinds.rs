//! The record kinds the cockpit writes, and the fields of each payload. The journal itself stores any
//! kind; this catalogue is the contract between the writers (the core, the broker adapter, the agent
//! gateway) and the readers (recovery, `cockpit report`, the screen's history). Decimals are JSON strings
//! (`"100"`, `"187.25"`), tickets are [`OrderTicket`](crate::domain::OrderTicket) as serde writes it.
//!
//! | kind | fields |
//! |---|---|
//! | `start` | `config_hash`, `mode` (`paper`/`live`/`dry-run`), `version`, `timezone` (IANA name of the exchange day) |
//! | `verdict` | `proposal`, `version`, `requester` (agent name or `trader`), `note`, `ticket`, `codes` (rule codes; empty when clearable), `messages`, `tier` (`None`/`Confirm`/`Typed`, null when refused), `fingerprint` (null when refused) |
//! | `proposal_refused` | `reason`, and `ticket` or `proposal`: a proposal that never got an id, or a withdraw of another's |
//! | `human_action` | `action`, then per action: `approve` {`proposal`, `version`, `by` (`automatic`/`confirm`/`typed`), `fingerprint`}; `edit` {`proposal`, `from_version`, `before`, `after`}; `reject` {`proposal`, `reason`}; `withdraw` {`proposal`, `reason`} (by its agent); `expire` {`proposal`, `reason`} (by the clock); `acknowledge` {`alert`}; `kill_switch` {}; `resume` {`typed`}; `discarded_keys` {`keys`, `reason`}; `profile_switch` {`from`, `to`}. Any of them with `refused` (text) was not carried out |
//! | `intent` | `proposal`, `version`, `order_id`, `order_ref`, `high_water`, `epoch`, `ticket`, `fingerprint`, `notional`, `agent_unapproved` (bool: an agent's order sent without approval) — synced before the send |
//! | `sent` | `proposal`, `order_id`, `order_ref` |
//! | `not_sent` | `proposal`, `reason`: approved or intended, never handed to the broker |
//! | `in_doubt` | `proposal`, `order_id`, `order_ref`, `found` (bool), `status`: an intent from before a restart, resolved by the broker's open orders and executions |
//! | `broker_event` | `event`, then: `connected` {`next_valid_id`}; `disconnected` {}; `reconciled` {}; `order_status` {`proposal`, `order_id`, `status` (`Submitted`, `PartiallyFilled`, `Filled`, `Cancelled`, `Rejected`, …)}; `execution` {`proposal`, `order_id`, `exec_id`, `quantity`, `price`, `replay` (found by a reconciliation)}; `positions_adopted` {`why` (`baseline`, `baseline unconfirmed`, `mismatch`), `positions` [{`account`, `symbol`, `instrument`, `quantity`}]}: the broker's positions taken as the cockpit's; `commission` {`exec_id`, `commission`, `currency`, `realized_pnl` (null when IB sends none)}; `error` {`order_id` (or null), `code`, `text`} |
//! | `position_mismatch` | `account`, `symbol`, `instrument` (as serde writes it), `broker`, `cockpit` (signed quantities): a position that differed from the broker's on two checks in a row; the broker's positions are taken after it (`broker_event` `positions_adopted`) |
//! | `trading_state` | `level` (`ACTIVE`/`REDUCING`/`HALTED`), `cause` (a cause label, or `resume`), `epoch`, `why` |
//! | `alert` | `id`, `severity` (`info`/`warning`/`critical`), `text`, `source` (`system`/`broker`/`agent:NAME`) |
//! | `tool_call` | `agent` (configured name or `unknown`), `label` (the name the MCP client declared), `uid`, `tool`, `arguments` (or `{"truncated": true, "size": N}`), `outcome` (`ok`/`refused`/`error`/`malformed`), `detail` |

/// `start`.
pub const START: &str = "start";
/// `verdict`.
pub const VERDICT: &str = "verdict";
/// `proposal_refused`.
pub const PROPOSAL_REFUSED: &str = "proposal_refused";
/// `human_action`.
pub const HUMAN_ACTION: &str = "human_action";
/// `intent`.
pub const INTENT: &str = "intent";
/// `sent`.
pub const SENT: &str = "sent";
/// `not_sent`.
pub const NOT_SENT: &str = "not_sent";
/// `in_doubt`.
pub const IN_DOUBT: &str = "in_doubt";
/// `broker_event`.
pub const BROKER_EVENT: &str = "broker_event";
/// `position_mismatch`.
pub const POSITION_MISMATCH: &str = "position_mismatch";
/// `trading_state`.
pub const TRADING_STATE: &str = "trading_state";
/// `alert`.
pub const ALERT: &str = "alert";
/// `tool_call`.
pub const TOOL_CALL: &str = "tool_call";
