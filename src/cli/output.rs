//! What the CLI shows on stderr besides its reports: colour, the progress bar and the
//! `-v` request log.
//!
//! * Colour: `--color always|never|auto`; `auto` means stderr is a terminal, `NO_COLOR` is
//!   unset or empty and `TERM` is not `dumb`.
//! * Progress bar: only when stderr is a terminal, never for `external` (Terraform reads
//!   its stderr), never with `--quiet` or `-v` (the request log is the progress then).
//!   Colour decides only its style.
//! * `-v`: a `tracing` subscriber prints the registry client's `tf_pin` events on stderr
//!   (`tf-pin: HEAD https://HOST/v2/REPO/manifests/TAG -> 200 (12.3 ms)`). Nothing is set
//!   up without `-v`, so `external` starts as fast as before.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::resolver::Progress;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Decisions about stderr, made once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ui {
    /// Use ANSI colours on stderr.
    pub color: bool,
    /// Draw a progress bar on stderr while resolving.
    pub progress: bool,
}

/// The facts the decisions depend on (separate, so they can be tested without a terminal).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub stderr_is_terminal: bool,
    pub no_color: Option<&'a str>,
    pub term: Option<&'a str>,
    pub choice: ColorChoice,
    pub quiet: bool,
    pub verbose: bool,
    /// `tf-pin external`: Terraform owns stderr.
    pub external: bool,
}

impl Ui {
    /// The decisions for this process.
    pub(crate) fn detect(choice: ColorChoice, quiet: bool, verbose: bool, external: bool) -> Ui {
        let no_color = std::env::var("NO_COLOR").ok();
        let term = std::env::var("TERM").ok();
        Ui::decide(Facts {
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: no_color.as_deref(),
            term: term.as_deref(),
            choice,
            quiet,
            verbose,
            external,
        })
    }

    pub(crate) fn decide(facts: Facts<'_>) -> Ui {
        let dumb = facts.term == Some("dumb");
        let color = match facts.choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                facts.stderr_is_terminal && facts.no_color.is_none_or(str::is_empty) && !dumb
            }
        };
        let progress =
            facts.stderr_is_terminal && !dumb && !facts.external && !facts.quiet && !facts.verbose;
        Ui { color, progress }
    }

    /// The progress reporter to give the resolver, if any.
    pub(crate) fn progress(self) -> Option<Arc<dyn Progress>> {
        self.progress
            .then(|| Arc::new(Bar::new(self.color)) as Arc<dyn Progress>)
    }
}

/// Prints the `tf_pin` tracing events (the `-v` request log) on stderr.
pub(crate) fn init_logging(color: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .event_format(Prefixed)
        .with_filter(Targets::new().with_target("tf_pin", LevelFilter::DEBUG));
    // A second call (tests running `run` twice in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// `tf-pin: MESSAGE`: no timestamp, level or target.
struct Prefixed;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Prefixed
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        if writer.has_ansi_escapes() {
            write!(writer, "\x1b[2mtf-pin:\x1b[0m ")?;
        } else {
            write!(writer, "tf-pin: ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// An indicatif bar on stderr; a batch of one lookup draws nothing.
struct Bar {
    color: bool,
    current: std::sync::Mutex<Option<ProgressBar>>,
}

impl Bar {
    fn new(color: bool) -> Bar {
        Bar {
            color,
            current: std::sync::Mutex::new(None),
        }
    }

    fn style(&self) -> ProgressStyle {
        let template = if self.color {
            "{spinner:.cyan} {msg} [{bar:30.cyan/blue}] {pos}/{len} {elapsed}"
        } else {
            "{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}"
        };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: usize) {
        if total < 2 {
            return;
        }
        let bar = ProgressBar::with_draw_target(
            Some(total as u64),
            ProgressDrawTarget::stderr_with_hz(10),
        )
        .with_style(self.style())
        .with_message(format!("tf-pin: {what}"));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar.tick();
        if let Some(previous) = self.slot().replace(bar) {
            previous.finish_and_clear();
        }
    }

    fn advance(&self) {
        if let Some(bar) = self.slot().as_ref() {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.slot().take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            stderr_is_terminal: true,
            no_color: None,
            term: Some("xterm-256color"),
            choice: ColorChoice::Auto,
            quiet: false,
            verbose: false,
            external: false,
        }
    }

    #[test]
    fn progress_only_on_a_terminal_and_never_for_external_quiet_or_verbose() {
        assert!(Ui::decide(facts()).progress);
        for hidden in [
            Facts {
                stderr_is_terminal: false,
                ..facts()
            },
            Facts {
                external: true,
                ..facts()
            },
            Facts {
                quiet: true,
                ..facts()
            },
            Facts {
                verbose: true,
                ..facts()
            },
            Facts {
                term: Some("dumb"),
                ..facts()
            },
            Facts {
                stderr_is_terminal: false,
                choice: ColorChoice::Always,
                ..facts()
            },
        ] {
            assert!(!Ui::decide(hidden).progress, "{hidden:?}");
        }
        // NO_COLOR and --color never take the colour away, not the bar.
        let plain = Ui::decide(Facts {
            no_color: Some("1"),
            ..facts()
        });
        assert_eq!(
            plain,
            Ui {
                color: false,
                progress: true
            }
        );
    }

    #[test]
    fn color_follows_the_choice_no_color_and_the_terminal() {
        let color = |facts: Facts<'_>| Ui::decide(facts).color;
        assert!(color(facts()));
        assert!(!color(Facts {
            no_color: Some("1"),
            ..facts()
        }));
        assert!(color(Facts {
            no_color: Some(""),
            ..facts()
        }));
        assert!(!color(Facts {
            stderr_is_terminal: false,
            ..facts()
        }));
        assert!(!color(Facts {
            choice: ColorChoice::Never,
            ..facts()
        }));
        assert!(color(Facts {
            stderr_is_terminal: false,
            no_color: Some("1"),
            choice: ColorChoice::Always,
            ..facts()
        }));
    }

    #[test]
    fn no_progress_reporter_without_a_terminal() {
        assert!(Ui::default().progress().is_none());
    }
}
