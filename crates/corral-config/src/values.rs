//! Small value types whose parsing carries the error messages users see.
//!
//! Each type deserializes with a hand-written visitor instead of `#[serde(untagged)]`
//! so that `serde_path_to_error` keeps the field path, and so that a bad value is
//! reported as `expected …, got …` with the offending value spelled out.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A POSIX signal number, 1..=31, written as a number or a name ("SIGTERM", "TERM").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

const SIGNAL_NAMES: &[(&str, i32)] = &[
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
    ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12),
    ("PIPE", 13), ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CONT", 18),
    ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24),
    ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("POLL", 29),
    ("PWR", 30), ("SYS", 31),
];

impl Signal {
    pub const TERM: Signal = Signal(15);
    pub const KILL: Signal = Signal(9);

    pub fn from_number(n: i64) -> Option<Signal> {
        (1..=31).contains(&n).then_some(Signal(n as i32))
    }

    pub fn from_name(name: &str) -> Option<Signal> {
        let upper = name.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        SIGNAL_NAMES.iter().find(|(n, _)| *n == bare).map(|&(_, num)| Signal(num))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    pub fn name(self) -> String {
        SIGNAL_NAMES
            .iter()
            .find(|(_, num)| *num == self.0)
            .map(|(n, _)| format!("SIG{n}"))
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl Default for Signal {
    fn default() -> Self {
        Signal::TERM
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

const SIGNAL_EXPECTED: &str = r#"1..31 or a name like "SIGTERM""#;

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Signal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SIGNAL_EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Signal, E> {
                Signal::from_number(v)
                    .ok_or_else(|| E::custom(format!("expected {SIGNAL_EXPECTED}, got {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Signal, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Signal, E> {
                Err(E::custom(format!("expected {SIGNAL_EXPECTED}, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Signal, E> {
                if let Ok(n) = v.trim().parse::<i64>() {
                    return self.visit_i64(n);
                }
                Signal::from_name(v)
                    .ok_or_else(|| E::custom(format!("expected {SIGNAL_EXPECTED}, got {v:?}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.0)
    }
}

impl JsonSchema for Signal {
    fn schema_name() -> Cow<'static, str> {
        "Signal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A signal: a number 1..31 or a name such as \"SIGTERM\" or \"TERM\".",
            "oneOf": [
                { "type": "integer", "minimum": 1, "maximum": 31 },
                { "type": "string", "pattern": "^(?i)(SIG)?[A-Z0-9]+$" }
            ]
        })
    }
}

/// A non-negative duration in seconds; fractions are allowed ("0.5").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub Duration);

/// The largest duration accepted: a year. Anything longer is certainly a typo
/// and would overflow `Instant` arithmetic on some platforms.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

impl Seconds {
    pub fn from_secs(s: u64) -> Self {
        Seconds(Duration::from_secs(s))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "a number of seconds from 0 to 31536000";
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) {
                    Ok(Seconds(Duration::from_secs_f64(v)))
                } else {
                    Err(E::custom(format!("expected {EXPECTED}, got {v}")))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                if v < 0 || v as f64 > MAX_SECONDS {
                    return Err(E::custom(format!("expected {EXPECTED}, got {v}")));
                }
                Ok(Seconds(Duration::from_secs(v as u64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

impl JsonSchema for Seconds {
    fn schema_name() -> Cow<'static, str> {
        "Seconds".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration in seconds (fractions allowed).",
            "type": "number", "minimum": 0, "maximum": MAX_SECONDS
        })
    }
}

/// A process exit status, 0..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ExitCode(pub u8);

impl<'de> Deserialize<'de> for ExitCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExitCode;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code 0..255")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExitCode, E> {
                u8::try_from(v)
                    .map(ExitCode)
                    .map_err(|_| E::custom(format!("expected an exit code 0..255, got {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitCode, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ExitCode, E> {
                Err(E::custom(format!("expected an exit code 0..255, got {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for ExitCode {
    fn schema_name() -> Cow<'static, str> {
        "ExitCode".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 0, "maximum": 255 })
    }
}

/// Environment variables, in order: a list of `"NAME=value"` strings (process-compose's
/// form) or an object `{ "NAME": "value" }`. Later entries win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(pub Vec<(String, String)>);

impl Environment {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_env_name<E: de::Error>(name: &str, entry: &str) -> Result<(), E> {
    if name.is_empty() || name.contains('\0') || name.contains('=') {
        return Err(E::custom(format!("expected \"NAME=value\" with a non-empty NAME, got {entry:?}")));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Environment;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of \"NAME=value\" strings or an object of NAME: value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Environment, A::Error> {
                let mut out = Vec::new();
                while let Some(EnvEntry(k, v)) = seq.next_element()? {
                    out.push((k, v));
                }
                Ok(Environment(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Environment, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    check_env_name::<A::Error>(&k, &k)?;
                    let v: EnvValue = map.next_value()?;
                    out.push((k, v.0));
                }
                Ok(Environment(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One `"NAME=value"` list entry.
struct EnvEntry(String, String);

impl<'de> Deserialize<'de> for EnvEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.split_once('=') {
            Some((k, v)) => {
                check_env_name::<D::Error>(k, &s)?;
                if v.contains('\0') {
                    return Err(de::Error::custom(format!("value of {k} contains a NUL byte")));
                }
                Ok(EnvEntry(k.to_string(), v.to_string()))
            }
            None => Err(de::Error::custom(format!("expected \"NAME=value\", got {s:?}"))),
        }
    }
}

/// An environment value in the object form: strings, numbers and booleans are
/// accepted (written as JSON would print them), anything else is an error.
struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                if v.contains('\0') {
                    return Err(E::custom("value contains a NUL byte"));
                }
                Ok(EnvValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Environment {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(k, v)| format!("{k}={v}")))
    }
}

impl JsonSchema for Environment {
    fn schema_name() -> Cow<'static, str> {
        "Environment".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Environment variables: a list of \"NAME=value\" strings, or an object of NAME: value. Values are passed as written: no $VAR expansion.",
            "oneOf": [
                { "type": "array", "items": { "type": "string", "pattern": "^[^=]+=" } },
                { "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] } }
            ]
        })
    }
}

/// One namespace or a list of them (process-compose accepts a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces(pub Vec<String>);

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces(vec!["default".to_string()])
    }
}

impl<'de> Deserialize<'de> for Namespaces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Namespaces;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a namespace name or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Namespaces, E> {
                Ok(Namespaces(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Namespaces, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Namespaces(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Namespaces {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

impl JsonSchema for Namespaces {
    fn schema_name() -> Cow<'static, str> {
        "Namespaces".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A namespace name or a list of them.",
            "oneOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ]
        })
    }
}

/// A map whose keys must be unique: `{"a": 1, "a": 2}` is an error naming the key,
/// where serde's maps would keep the last value without a word.
pub(crate) fn unique_map<'de, D, V>(d: D) -> Result<std::collections::BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct M<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for M<V> {
        type Value = std::collections::BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(de::Error::custom(format!("{k:?} is given twice (a name may appear only once)")));
                }
                let v: V = map.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(M(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse::<Signal>("15").unwrap(), Signal::TERM);
        assert_eq!(parse::<Signal>("\"SIGKILL\"").unwrap(), Signal::KILL);
        assert_eq!(parse::<Signal>("\"int\"").unwrap().number(), 2);
        assert_eq!(parse::<Signal>("\"9\"").unwrap(), Signal::KILL);
        let err = parse::<Signal>("99").unwrap_err();
        assert!(err.contains(r#"expected 1..31 or a name like "SIGTERM", got 99"#), "{err}");
        assert!(parse::<Signal>("\"SIGNOPE\"").unwrap_err().contains("got \"SIGNOPE\""));
        assert!(parse::<Signal>("0").is_err());
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
    }

    #[test]
    fn seconds_reject_negative_and_huge() {
        assert_eq!(parse::<Seconds>("2").unwrap().0, Duration::from_secs(2));
        assert_eq!(parse::<Seconds>("0.25").unwrap().0, Duration::from_millis(250));
        assert!(parse::<Seconds>("-1").unwrap_err().contains("got -1"));
        assert!(parse::<Seconds>("1e300").is_err());
        assert!(parse::<Seconds>("\"5\"").is_err());
    }

    #[test]
    fn exit_codes_in_range() {
        assert_eq!(parse::<ExitCode>("255").unwrap(), ExitCode(255));
        assert!(parse::<ExitCode>("256").unwrap_err().contains("got 256"));
        assert!(parse::<ExitCode>("-3").is_err());
    }

    #[test]
    fn environment_list_and_map() {
        let e: Environment = parse(r#"["A=1", "B=x=y", "C="]"#).unwrap();
        assert_eq!(e.0, vec![("A".into(), "1".into()), ("B".into(), "x=y".into()), ("C".into(), "".into())]);
        let e: Environment = parse(r#"{"A": "$HOME", "N": 3, "T": true}"#).unwrap();
        assert_eq!(e.0, vec![("A".into(), "$HOME".into()), ("N".into(), "3".into()), ("T".into(), "true".into())]);
        assert!(parse::<Environment>(r#"["NOEQUALS"]"#).unwrap_err().contains("got \"NOEQUALS\""));
        assert!(parse::<Environment>(r#"["=v"]"#).is_err());
        assert!(parse::<Environment>(r#"{"A": [1]}"#).is_err());
    }

    #[test]
    fn namespaces_string_or_list() {
        assert_eq!(parse::<Namespaces>("\"db\"").unwrap().0, vec!["db"]);
        assert_eq!(parse::<Namespaces>(r#"["a","b"]"#).unwrap().0, vec!["a", "b"]);
    }
}
