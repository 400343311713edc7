//! Shell text the exports generate: quoting, and probes as commands.
//!
//! Targets without corral's probe runner (systemd's `ExecStartPost=`, Compose
//! healthchecks, Kubernetes init containers) get each probe as a command. TCP and
//! HTTP checks use bash's `/dev/tcp`, so they need no curl or netcat in an image.

use corral_config::{ExecProbe, HttpGetProbe, TcpSocketProbe};

/// `text` as one POSIX shell word.
pub(crate) fn quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Words joined into one command line, each quoted.
pub(crate) fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// A TCP connect to `host:port` (bash).
pub(crate) fn tcp_check(host: &str, port: u16) -> String {
    format!("exec 3<>/dev/tcp/{}/{port}", quote(host))
}

/// An HTTP/1.0 GET whose status must be `status` (or any 2xx/3xx) (bash).
pub(crate) fn http_check(probe: &HttpGetProbe, port: u16) -> String {
    let mut s = tcp_check(&probe.host, port);
    s.push_str(&format!(" && printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n' {} {} >&3", quote(&probe.path), quote(&probe.host)));
    for (k, v) in &probe.headers {
        s.push_str(&format!(" && printf '%s: %s\\r\\n' {} {} >&3", quote(k), quote(v)));
    }
    s.push_str(" && printf '\\r\\n' >&3 && read -r _ code _ <&3 && ");
    match probe.status_code {
        Some(code) => s.push_str(&format!("[ \"$code\" = {code} ]")),
        None => s.push_str("case $code in 2??|3??) exit 0;; *) exit 1;; esac"),
    }
    s
}

/// The argv that runs a probe once: the configured shell for `exec`, bash for the network kinds.
pub(crate) fn probe_argv(shell: &[String; 2], bash: &str, exec: Option<&ExecProbe>, tcp: Option<(&TcpSocketProbe, u16)>, http: Option<(&HttpGetProbe, u16)>) -> Option<Vec<String>> {
    if let Some(e) = exec {
        return Some(vec![shell[0].clone(), shell[1].clone(), e.command.clone()]);
    }
    if let Some((t, port)) = tcp {
        return Some(vec![bash.to_string(), "-c".into(), tcp_check(&t.host, port)]);
    }
    http.map(|(h, port)| vec![bash.to_string(), "-c".into(), http_check(h, port)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_real_shell() {
        for text in ["plain", "", "it's", "$HOME `x` \"y\"", "a\nb", "%s\\n"] {
            let out = std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", quote(text))).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
        }
    }
}
