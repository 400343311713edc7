//! Readiness and liveness probes, in process-compose's shape, plus corral's
//! `tcp_socket` kind. Every timing field is honoured (process-compose and
//! devenv ignore some of them).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::values::Seconds;

/// A check run periodically against a process.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Probe {
    /// Run a command; success is exit status 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    /// Send an HTTP GET; success is the expected status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetProbe>,
    /// Open a TCP connection; success is a completed connect (corral's addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketProbe>,
    /// Wait this long after the process starts before the first check.
    #[serde(default = "zero")]
    pub initial_delay_seconds: Seconds,
    /// Time between the start of two checks.
    #[serde(default = "ten")]
    pub period_seconds: Seconds,
    /// A check that takes longer fails (an exec probe's whole process group is killed).
    #[serde(default = "one")]
    pub timeout_seconds: Seconds,
    /// Consecutive successes needed to become ready.
    #[serde(default = "one_u32")]
    pub success_threshold: u32,
    /// Consecutive failures that mark the process not ready (readiness) or restart it (liveness).
    #[serde(default = "three_u32")]
    pub failure_threshold: u32,
}

fn zero() -> Seconds {
    Seconds::from_secs(0)
}
fn one() -> Seconds {
    Seconds::from_secs(1)
}
fn ten() -> Seconds {
    Seconds::from_secs(10)
}
fn one_u32() -> u32 {
    1
}
fn three_u32() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ExecProbe {
    /// Shell text, run with the process's environment through the configured shell.
    pub command: String,
    /// Where to run it; default the process's `working_dir`. Relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct HttpGetProbe {
    #[serde(default = "loopback")]
    pub host: String,
    /// Only "http" is supported.
    #[serde(default = "http")]
    pub scheme: String,
    #[serde(default = "root_path")]
    pub path: String,
    /// A port number, or the name of a port this process allocates (`ports`).
    pub port: ProbePort,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The status that counts as success; default any 2xx or 3xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct TcpSocketProbe {
    #[serde(default = "loopback")]
    pub host: String,
    /// A port number, or the name of a port this process allocates (`ports`).
    pub port: ProbePort,
}

fn loopback() -> String {
    "127.0.0.1".to_string()
}
fn http() -> String {
    "http".to_string()
}
fn root_path() -> String {
    "/".to_string()
}

/// A TCP port, 1..=65535, as a number or a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a port 1..65535";
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                u16::try_from(v).ok().filter(|p| *p > 0).map(Port).ok_or_else(|| E::custom(format!("expected {EXPECTED}, got {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Port, E> {
                Err(E::custom(format!("expected {EXPECTED}, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
                match v.trim().parse::<i64>() {
                    Ok(n) => self.visit_i64(n),
                    Err(_) => Err(E::custom(format!("expected {EXPECTED}, got {v:?}"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [ { "type": "integer", "minimum": 1, "maximum": 65535 }, { "type": "string", "pattern": "^[0-9]+$" } ]
        })
    }
}

/// A probe's port: a number, or the name of a port the process allocates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProbePort {
    Number(Port),
    Named(String),
}

impl<'de> Deserialize<'de> for ProbePort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ProbePort;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port 1..65535 or the name of one of the process's ports")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ProbePort, E> {
                Port::deserialize(de::value::I64Deserializer::<E>::new(v)).map(ProbePort::Number)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ProbePort, E> {
                Port::deserialize(de::value::U64Deserializer::<E>::new(v)).map(ProbePort::Number)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ProbePort, E> {
                Err(E::custom(format!("expected a port 1..65535, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProbePort, E> {
                if v.trim().bytes().all(|b| b.is_ascii_digit()) {
                    Port::deserialize(de::value::StrDeserializer::<E>::new(v)).map(ProbePort::Number)
                } else {
                    Ok(ProbePort::Named(v.to_string()))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ProbePort {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProbePort".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A port number, or the name of one of the process's allocated ports.",
            "oneOf": [ { "type": "integer", "minimum": 1, "maximum": 65535 }, { "type": "string" } ]
        })
    }
}

/// Which kind of check a probe runs, once validated.
pub enum ProbeKind<'a> {
    Exec(&'a ExecProbe),
    HttpGet(&'a HttpGetProbe),
    TcpSocket(&'a TcpSocketProbe),
}

impl Probe {
    /// The one kind this probe has, or None when it has zero or several
    /// (validation rejects both).
    pub fn kind(&self) -> Option<ProbeKind<'_>> {
        match (&self.exec, &self.http_get, &self.tcp_socket) {
            (Some(e), None, None) => Some(ProbeKind::Exec(e)),
            (None, Some(h), None) => Some(ProbeKind::HttpGet(h)),
            (None, None, Some(t)) => Some(ProbeKind::TcpSocket(t)),
            _ => None,
        }
    }
}
