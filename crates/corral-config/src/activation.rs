//! What a process can ask of corral the way a systemd service would: to tell
//! readiness itself (sd_notify or an s6 notification fd), a watchdog, sockets
//! bound before it starts (socket activation), and ports allocated for it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::probe::Port;
use crate::values::{Seconds, Signal};

/// A watchdog: the process must send `WATCHDOG=1` (sd_notify) at least every `timeout_seconds`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Watchdog {
    /// The process gets `WATCHDOG_USEC` for this; silence this long is a failure.
    pub timeout_seconds: Seconds,
    /// Arm only once the process is ready (default true).
    #[serde(default = "yes")]
    pub require_ready: bool,
    /// Sent to the process when the watchdog expires (default SIGABRT); SIGKILL to its
    /// group follows after `shutdown.timeout_seconds`. Then the restart policy applies.
    #[serde(default = "abort")]
    pub signal: Signal,
}

fn yes() -> bool {
    true
}
fn abort() -> Signal {
    Signal::from_number(6).expect("SIGABRT")
}

/// A socket corral binds before the first start and passes at fd 3, 4, … (`LISTEN_FDS`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Listener {
    /// The name in `LISTEN_FDNAMES`.
    pub name: String,
    /// A TCP listening socket, `"127.0.0.1:8080"` or `"[::1]:8080"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    /// A UDP socket, `"127.0.0.1:5353"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<String>,
    /// A Unix stream listening socket at this path (relative to the project root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_stream: Option<PathBuf>,
    /// Permissions of the Unix socket file, in octal (`"0660"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
}

/// Unix permissions written in octal, `"0660"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FileMode(pub u32);

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "permissions in octal like \"0660\"";
        impl Visitor<'_> for V {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileMode, E> {
                u32::from_str_radix(v, 8)
                    .ok()
                    .filter(|m| *m <= 0o777 && !v.is_empty())
                    .map(FileMode)
                    .ok_or_else(|| E::custom(format!("expected {EXPECTED}, got {v:?}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileMode, E> {
                Err(E::custom(format!("expected {EXPECTED} (a string, so octal is unambiguous), got {v}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileMode, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for FileMode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileMode".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-7]{1,4}$" })
    }
}

/// Which kind of socket a listener is, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerKind {
    Tcp(std::net::SocketAddr),
    Udp(std::net::SocketAddr),
    UnixStream(PathBuf),
}

impl Listener {
    /// The one kind this listener has; None when it has zero or several, or a bad address.
    pub fn kind(&self) -> Option<ListenerKind> {
        match (&self.tcp, &self.udp, &self.unix_stream) {
            (Some(a), None, None) => a.parse().ok().map(ListenerKind::Tcp),
            (None, Some(a), None) => a.parse().ok().map(ListenerKind::Udp),
            (None, None, Some(p)) => Some(ListenerKind::UnixStream(p.clone())),
            _ => None,
        }
    }
}

/// Named ports to allocate: the first free port from each base upward.
pub type Ports = BTreeMap<String, Port>;

/// The environment variable carrying an allocated port: `CORRAL_PORT_<PROCESS>_<NAME>`,
/// upper-cased, every character other than a letter or digit written as `_`.
pub fn port_env_name(process: &str, port: &str) -> String {
    let norm = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect::<String>();
    format!("CORRAL_PORT_{}_{}", norm(process), norm(port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_strings() {
        assert_eq!(serde_json::from_str::<FileMode>("\"0660\"").unwrap(), FileMode(0o660));
        assert!(serde_json::from_str::<FileMode>("\"0999\"").unwrap_err().to_string().contains("got \"0999\""));
        assert!(serde_json::from_str::<FileMode>("660").unwrap_err().to_string().contains("a string"));
    }

    #[test]
    fn port_variables_are_normalised() {
        assert_eq!(port_env_name("api-v2", "http"), "CORRAL_PORT_API_V2_HTTP");
    }

    #[test]
    fn listener_kinds() {
        let l = |json: &str| serde_json::from_str::<Listener>(json).unwrap().kind();
        assert_eq!(l(r#"{"name":"h","tcp":"127.0.0.1:80"}"#), Some(ListenerKind::Tcp("127.0.0.1:80".parse().unwrap())));
        assert_eq!(l(r#"{"name":"h","tcp":"localhost:80"}"#), None);
        assert_eq!(l(r#"{"name":"h","tcp":"127.0.0.1:80","udp":"127.0.0.1:80"}"#), None);
        assert!(matches!(l(r#"{"name":"s","unix_stream":"a.sock"}"#), Some(ListenerKind::UnixStream(_))));
    }
}
