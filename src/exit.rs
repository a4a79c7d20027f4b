//! Process exit codes, shared by every subcommand and documented in the README.

/// Everything resolved / nothing to report.
pub const OK: i32 = 0;
/// A check found a problem (`rewrite --check`, `mirror-check` found a stale mirror).
pub const CHECK_FAILED: i32 = 1;
/// Usage or input error: bad flags, bad references, unreadable or unparseable files.
pub const INPUT: i32 = 2;
/// Registry, network or authentication error.
pub const REGISTRY: i32 = 3;
