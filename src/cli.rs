//! Command-line layer.

/// Runs the CLI and returns the process exit code.
pub fn run() -> i32 {
    0
}
