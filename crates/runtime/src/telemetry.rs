//! Tracing setup: `RUST_LOG` filters, logs go to stderr.
//!
//! A function's own output (event-display's events, the appender's Go-style log lines)
//! goes through [`crate::Console`], not through tracing; tracing carries diagnostics.

use tracing_subscriber::EnvFilter;

use crate::Env;

/// The filter when `RUST_LOG` is unset: warnings and errors only, so that a
/// function's stdout and stderr look like the upstream image's.
pub const DEFAULT_FILTER: &str = "warn";

/// Installs the global subscriber, filtered by `RUST_LOG` from `env`. Does nothing
/// if one is already installed (several functions in one process share it).
/// An invalid `RUST_LOG` falls back to [`DEFAULT_FILTER`] with a warning.
pub fn init(env: &Env) {
    let (filter, bad) = match env.get("RUST_LOG") {
        Some(spec) => match EnvFilter::try_new(spec) {
            Ok(filter) => (filter, None),
            Err(err) => (EnvFilter::new(DEFAULT_FILTER), Some(format!("{spec:?}: {err}"))),
        },
        None => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let installed =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(true).try_init();
    if let (Ok(()), Some(bad)) = (installed, bad) {
        tracing::warn!("ignoring invalid RUST_LOG {bad}");
    }
}
