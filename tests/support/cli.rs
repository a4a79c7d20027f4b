//! Running the `tf-pin` binary under test as a child process.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::creds::CredEnv;

/// Kill a `tf-pin` run that takes longer than this (a hung test is worse than a failed one).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The outcome of one `tf-pin` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code; -1 if killed by a signal (or by [`RUN_TIMEOUT`]).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts a failed run: exit `code`, nothing on stdout (all or nothing), and every
    /// needle on stderr.
    #[track_caller]
    pub fn assert_failed(&self, code: i32, needles: &[&str]) {
        assert_eq!(
            (self.code, self.stdout.as_str()),
            (code, ""),
            "stderr: {}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} not in stderr:\n{}",
                self.stderr
            );
        }
    }
}

/// Runs `tf-pin ARGS…` with `stdin` (or none) and credentials from `creds`. Without
/// `creds` an empty [`CredEnv`] is used, so the host's own docker/podman credentials never
/// take part.
pub fn run(args: &[&str], stdin: Option<&[u8]>, creds: Option<&CredEnv>) -> Run {
    run_in(None, args, stdin, creds)
}

/// Like [`run`], in working directory `dir` (for commands that edit `.tf` files).
pub fn run_in(
    dir: Option<&std::path::Path>,
    args: &[&str],
    stdin: Option<&[u8]>,
    creds: Option<&CredEnv>,
) -> Run {
    let empty;
    let creds = match creds {
        Some(c) => c,
        None => {
            empty = CredEnv::new();
            &empty
        }
    };
    let mut cmd = super::tf_pin();
    creds.apply(&mut cmd);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    run_command(cmd.args(args), stdin)
}

/// Runs any prepared command with a timeout, capturing both streams.
pub fn run_command(cmd: &mut Command, stdin: Option<&[u8]>) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tf-pin");
    let input = stdin.map(<[u8]>::to_vec);
    let mut pipe_in = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let (Some(p), Some(data)) = (pipe_in.as_mut(), input) {
            let _ = p.write_all(&data);
        }
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait tf-pin") {
            break s;
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            break child.wait().expect("wait tf-pin");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}
