//! The access log: one Common Log Format line per request, as wsgiref's
//! `log_request` writes.

use crate::config::AccessLogTarget;
use crate::environ_builder::RemoteAddr;

/// Writes access-log lines to the configured target.
#[derive(Debug, Clone)]
pub(crate) struct AccessLog {
    target: AccessLogTarget,
}

impl AccessLog {
    pub(crate) fn new(target: AccessLogTarget) -> AccessLog {
        AccessLog { target }
    }

    /// `host - - [time] "request line" status bytes`
    pub(crate) fn record(
        &self,
        remote: &RemoteAddr,
        time: &str,
        request_line: &dyn std::fmt::Display,
        status: u16,
        bytes: u64,
    ) {
        // Formatting costs more than the check: skip it all when nobody listens.
        let heard = match &self.target {
            AccessLogTarget::Off => false,
            AccessLogTarget::Log => {
                log::log_enabled!(target: "gateway_server::access", log::Level::Info)
            }
            AccessLogTarget::Writer(_) => true,
        };
        if !heard {
            return;
        }
        let host = remote.addr.as_deref().unwrap_or("-");
        let bytes = if bytes == 0 {
            "-".to_owned()
        } else {
            bytes.to_string()
        };
        match &self.target {
            AccessLogTarget::Off => {}
            AccessLogTarget::Log => {
                log::info!(target: "gateway_server::access", "{host} - - [{time}] \"{request_line}\" {status} {bytes}");
            }
            AccessLogTarget::Writer(writer) => {
                let line = format!("{host} - - [{time}] \"{request_line}\" {status} {bytes}\n");
                let mut writer = writer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if writer.write_all(line.as_bytes()).is_err() {
                    log::warn!("could not write the access log");
                }
            }
        }
    }
}
