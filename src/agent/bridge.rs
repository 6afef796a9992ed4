//! `cockpit mcp`: the stdio bridge to a running cockpit's agent socket (to come).
