//! Process start-up shared by the sealstack binaries.
//!
//! Every binary calls [`install_crypto_provider`] first thing in `main`: kube's TLS stack uses ring while
//! libp2p pulls aws-lc-rs, and rustls refuses to pick between two compiled-in providers on its own.
//! [`init_logging`] then sets up `tracing` from `RUST_LOG` in text or JSON.

use tracing_subscriber::EnvFilter;

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Makes ring the process-wide rustls crypto provider. Safe to call more than once.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts `tracing` output on standard error, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second initialisation (e.g. in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_provider_is_ring_after_install() {
        install_crypto_provider();
        install_crypto_provider();
        let provider = rustls::crypto::CryptoProvider::get_default().expect("a provider is installed");
        let ring = rustls::crypto::ring::default_provider();
        let names = |p: &rustls::crypto::CryptoProvider| {
            p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect::<Vec<_>>()
        };
        assert_eq!(names(provider), names(&ring));
    }
}
