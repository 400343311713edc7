//! Kubernetes: per process a Deployment (a Job for one-shots), a ConfigMap with its
//! environment, a Service for its declared ports; dependencies as init containers.
//!
//! | corral | Kubernetes |
//! |---|---|
//! | a process | a Deployment (`replicas: 1`, `0` if `disabled`) |
//! | `replicas: N` | one Deployment with `replicas: N` (its pods are interchangeable: no `PC_REPLICA_NUM`) |
//! | a one-shot (others wait for it to complete, or `exit_on_end`) | a Job (`suspend: true` if `disabled`) |
//! | a one-shot with `replicas: N` | one Indexed Job (`completions`/`parallelism` N), `PC_REPLICA_NUM` = the pod's completion index |
//! | `command` / `entrypoint`, `shell` | the container's `command:` (images from `--image` / `--process-image`) |
//! | `environment` | a ConfigMap `SET-PROCESS-env`, used with `envFrom:`; names given with `--secret` go to a Secret `SET-PROCESS-secret` instead |
//! | `ports`, TCP/UDP `listen` | `containerPort`s and a Service `SET-PROCESS` |
//! | `readiness_probe`, `liveness_probe` | `readinessProbe`, `livenessProbe` (exec, httpGet, tcpSocket) |
//! | `depends_on` a process with ports | an init container waiting for a TCP connection through its Service (Services route to ready pods only) |
//! | `depends_on` other processes | an init container running `kubectl wait` (pods Ready, Jobs complete), with a ServiceAccount allowed to read pods and jobs |
//! | `shutdown.timeout_seconds`, `shutdown.command` | `terminationGracePeriodSeconds`, a `preStop` hook |
//! | `availability` (Jobs) | `restartPolicy`, `backoffLimit` |
//! | `working_dir` | `workingDir` (under `--root`, default `/app`) |

use corral_config::{Condition, Probe, RestartPolicy};
use serde_json::{json, Map, Value};

use crate::common::{dns_label, whole_seconds, Set};
use crate::warnings::Warnings;
use crate::{ExportError, File};

/// The image `kubectl wait` runs in.
pub const KUBECTL_IMAGE: &str = "registry.k8s.io/kubectl:v1.33.0";

pub(crate) fn export(set: &Set, warnings: &mut Warnings) -> Result<Vec<File>, ExportError> {
    // Replicated processes come back together: one workload of N.
    let (collapsed, replicas) = crate::replicas::collapse(set.config, warnings);
    let set = &Set::new(&collapsed, set.options, warnings);
    let k = Names { set: dns_label(&set.options.name) };
    let mut docs: Vec<Value> = Vec::new();
    let mut needs_waiter = false;
    let mut seen: Vec<String> = Vec::new();
    for &name in &set.order {
        let p = set.process(name);
        let label = dns_label(name);
        if seen.contains(&label) {
            return Err(ExportError::Unsupported { field: format!("processes.{name}"), message: format!("another process is also named {label:?} in Kubernetes; rename one") });
        }
        if label != name {
            warnings.process(name, "", format!("named {label:?} in Kubernetes (lower-case letters, digits and '-')"));
        }
        seen.push(label);
        let (secret, env): (Vec<_>, Vec<_>) = set.env(name).into_iter().partition(|(key, _)| set.options.secrets.contains(key));
        let env: Map<String, Value> = env.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let secret: Map<String, Value> = secret.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        if !env.is_empty() {
            docs.push(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": k.env(name), "labels": k.labels(name) },
                "data": env,
            }));
        }
        if !secret.is_empty() {
            docs.push(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": k.secret(name), "labels": k.labels(name) },
                "type": "Opaque",
                "stringData": secret,
            }));
        }
        let ports = set.declared_ports(name);
        if !ports.is_empty() {
            let sp: Vec<Value> = ports.iter().map(|(n, port, proto)| json!({ "name": port_name(n), "port": port, "targetPort": port, "protocol": proto })).collect();
            docs.push(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": { "name": k.object(name), "labels": k.labels(name) },
                "spec": { "selector": k.selector(name), "ports": sp },
            }));
        }
        let (mut pod, waiter) = pod(set, &k, name, !env.is_empty(), !secret.is_empty(), warnings);
        let count = replicas.get(name).copied().unwrap_or(1);
        if count > 1 && set.is_one_shot(name) {
            // Each pod of an Indexed Job knows its index: PC_REPLICA_NUM, as process-compose sets it.
            let index = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
            pod["containers"][0]["env"] = json!([{ "name": crate::replicas::REPLICA_NUM, "valueFrom": { "fieldRef": { "fieldPath": index } } }]);
        } else if count > 1 {
            warnings.process(name, "replicas", "one Deployment of interchangeable pods: PC_REPLICA_NUM is not set per pod");
        }
        needs_waiter |= waiter;
        let meta = json!({ "name": k.object(name), "labels": k.labels(name), "annotations": annotations(set, name) });
        let template = json!({ "metadata": { "labels": k.labels(name) }, "spec": pod });
        if set.is_one_shot(name) {
            let av = &p.availability;
            let backoff = match av.restart {
                RestartPolicy::No | RestartPolicy::ExitOnFailure => 0,
                _ if av.max_restarts > 0 => av.max_restarts,
                _ => {
                    warnings.process(name, "availability.max_restarts", "0 (unlimited): a Job gives up after backoffLimit failures, 6 here");
                    6
                }
            };
            let mut spec = json!({ "backoffLimit": backoff, "template": template });
            if count > 1 {
                spec["completions"] = count.into();
                spec["parallelism"] = count.into();
                spec["completionMode"] = "Indexed".into();
            }
            if p.disabled {
                spec["suspend"] = true.into();
            }
            docs.push(json!({ "apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec }));
        } else {
            docs.push(json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": { "replicas": if p.disabled { 0 } else { count }, "selector": { "matchLabels": k.selector(name) }, "template": template },
            }));
        }
    }
    if needs_waiter {
        let waiter = k.waiter();
        let labels = json!({ "app.kubernetes.io/part-of": k.set, "app.kubernetes.io/managed-by": "corral" });
        let mut rbac = vec![
            json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": waiter, "labels": labels } }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": { "name": waiter, "labels": labels },
                "rules": [
                    { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] },
                    { "apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"] },
                ],
            }),
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": { "name": waiter, "labels": labels },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": waiter },
                "subjects": [{ "kind": "ServiceAccount", "name": waiter }],
            }),
        ];
        rbac.append(&mut docs);
        docs = rbac;
    }
    let mut text = format!("# Generated by `corral export kubernetes` from the set {:?}; edit the set, not this file.\n", set.options.name);
    for d in &docs {
        text.push_str("---\n");
        text.push_str(&crate::common::yaml(d)?);
    }
    Ok(vec![File { name: "kubernetes.yaml".into(), contents: text }])
}

/// Object names and labels: `SET-PROCESS`, DNS-1123.
struct Names {
    set: String,
}

impl Names {
    fn object(&self, process: &str) -> String {
        dns_label(&format!("{}-{}", self.set, process))
    }
    fn env(&self, process: &str) -> String {
        dns_label(&format!("{}-{}-env", self.set, process))
    }
    fn secret(&self, process: &str) -> String {
        dns_label(&format!("{}-{}-secret", self.set, process))
    }
    fn waiter(&self) -> String {
        dns_label(&format!("{}-waiter", self.set))
    }
    fn selector(&self, process: &str) -> Value {
        json!({ "app.kubernetes.io/part-of": self.set, "app.kubernetes.io/name": dns_label(process) })
    }
    fn labels(&self, process: &str) -> Value {
        let mut l = self.selector(process);
        l["app.kubernetes.io/managed-by"] = "corral".into();
        l
    }
}

fn annotations(set: &Set, name: &str) -> Value {
    let p = set.process(name);
    let mut a = Map::new();
    a.insert("corral.dev/process".into(), name.into());
    a.insert("corral.dev/namespace".into(), p.namespace.0.join(",").into());
    if let Some(d) = &p.description {
        a.insert("corral.dev/description".into(), d.clone().into());
    }
    Value::Object(a)
}

/// A port name: IANA service name (lower-case, digits, '-', at most 15, a letter in it).
fn port_name(name: &str) -> String {
    let mut s = dns_label(name);
    s.truncate(15);
    let s = s.trim_matches('-').to_string();
    if s.chars().any(|c| c.is_ascii_lowercase()) { s } else { format!("p{}", &s[..s.len().min(14)]) }
}

/// The pod spec, and whether it uses the `kubectl wait` ServiceAccount.
fn pod(set: &Set, k: &Names, name: &str, has_env: bool, has_secret: bool, warnings: &mut Warnings) -> (Value, bool) {
    let p = set.process(name);
    let mut c = Map::new();
    c.insert("name".into(), dns_label(name).into());
    c.insert("image".into(), set.options.image_for(name).into());
    c.insert("command".into(), json!(set.argv(name, warnings)));
    c.insert("workingDir".into(), set.working_dir(name).to_string_lossy().into_owned().into());
    let mut from = Vec::new();
    if has_env {
        from.push(json!({ "configMapRef": { "name": k.env(name) } }));
    }
    if has_secret {
        from.push(json!({ "secretRef": { "name": k.secret(name) } }));
    }
    if !from.is_empty() {
        c.insert("envFrom".into(), Value::Array(from));
    }
    let ports = set.declared_ports(name);
    if !ports.is_empty() {
        c.insert("ports".into(), Value::Array(ports.iter().map(|(n, port, proto)| json!({ "name": port_name(n), "containerPort": port, "protocol": proto })).collect()));
    }
    if let Some(probe) = &p.readiness_probe {
        c.insert("readinessProbe".into(), k8s_probe(set, name, probe, "readiness_probe", false, warnings));
    }
    if let Some(probe) = &p.liveness_probe {
        c.insert("livenessProbe".into(), k8s_probe(set, name, probe, "liveness_probe", true, warnings));
    }
    if let Some(cmd) = &p.shutdown.command {
        let [sh, arg] = set.shell();
        c.insert("lifecycle".into(), json!({ "preStop": { "exec": { "command": [sh, arg, cmd] } } }));
    }
    if p.shutdown.signal.number() != 15 {
        warnings.process(name, "shutdown.signal", format!("{}: Kubernetes stops containers with SIGTERM (or the image's STOPSIGNAL)", p.shutdown.signal.name()));
    }

    // Dependencies: init containers.
    let mut inits = Vec::new();
    let mut waiter = false;
    for (dep, d) in &p.depends_on {
        let at = format!("depends_on.{dep}.condition");
        let dep_ports = set.declared_ports(dep);
        let one_shot = set.is_one_shot(dep);
        let wait_name = dns_label(&format!("wait-{dep}"));
        // The kubectl image's entrypoint is kubectl (it has no shell).
        let kubectl = |args: Vec<String>| json!({ "name": wait_name, "image": set.options.kubectl_image.as_deref().unwrap_or(KUBECTL_IMAGE), "args": args });
        let started_or_healthy = |warnings: &mut Warnings| -> (Value, bool) {
            if let (Some((_, port, "TCP")), false) = (dep_ports.first().map(|(n, p, pr)| (n, *p, *pr)), one_shot) {
                let script = format!("until (exec 3<>/dev/tcp/{}/{port}) 2>/dev/null; do sleep 1; done", k.object(dep));
                (json!({ "name": wait_name, "image": set.options.image_for(name), "command": [set.bash(), "-c", script] }), false)
            } else {
                if one_shot {
                    warnings.process(name, &at, "the dependency runs as a Job; waits for its pod to be Ready");
                }
                (kubectl(vec!["wait".into(), "--for=condition=Ready".into(), "pod".into(), format!("--selector=app.kubernetes.io/part-of={},app.kubernetes.io/name={}", k.set, dns_label(dep)), "--timeout=-1s".into()]), true)
            }
        };
        let (init, uses_kubectl) = match d.condition {
            Condition::ProcessStarted | Condition::ProcessHealthy => started_or_healthy(warnings),
            Condition::ProcessLogReady => {
                warnings.process(name, &at, "process_log_ready: Kubernetes cannot watch output lines; waits for the dependency to be ready instead");
                started_or_healthy(warnings)
            }
            Condition::ProcessCompleted | Condition::ProcessCompletedSuccessfully => {
                if d.condition == Condition::ProcessCompleted {
                    warnings.process(name, &at, "process_completed: waits for the Job to complete successfully");
                }
                (kubectl(vec!["wait".into(), "--for=condition=complete".into(), format!("job/{}", k.object(dep)), "--timeout=-1s".into()]), true)
            }
        };
        waiter |= uses_kubectl;
        inits.push(init);
    }

    let mut pod = Map::new();
    if !inits.is_empty() {
        pod.insert("initContainers".into(), Value::Array(inits));
    }
    pod.insert("containers".into(), json!([Value::Object(c)]));
    if waiter {
        pod.insert("serviceAccountName".into(), k.waiter().into());
    }
    pod.insert("terminationGracePeriodSeconds".into(), whole_seconds(p.shutdown.timeout_seconds.0, 0).into());

    let av = &p.availability;
    if set.is_one_shot(name) {
        let policy = if matches!(av.restart, RestartPolicy::OnFailure | RestartPolicy::Always) { "OnFailure" } else { "Never" };
        pod.insert("restartPolicy".into(), policy.into());
        if av.exit_on_end {
            warnings.process(name, "availability.exit_on_end", "a Job's end does not stop the other workloads");
        }
    } else {
        pod.insert("restartPolicy".into(), "Always".into());
        if av.restart != RestartPolicy::Always {
            warnings.process(name, "availability.restart", "a Deployment always restarts its container");
        }
        if av.max_restarts > 0 {
            warnings.process(name, "availability.max_restarts", "a Deployment never gives up restarting");
        }
    }
    if av.restart != RestartPolicy::No && (av.backoff_seconds.is_some() || av.backoff_max_seconds.is_some() || av.stable_after_seconds.is_some()) {
        warnings.process(name, "availability.backoff_seconds", "the kubelet picks the restart delay (CrashLoopBackOff, 10 s doubling to 5 min)");
    }
    if av.exit_on_skipped {
        warnings.process(name, "availability.exit_on_skipped", "Kubernetes has no skipped workloads");
    }
    if p.success_exit_codes.len() != 1 || p.success_exit_codes[0].0 != 0 {
        warnings.process(name, "success_exit_codes", "Kubernetes counts status 0 as success only");
    }
    for (set_, field, what) in [
        (p.ready_log_line.is_some(), "ready_log_line", "Kubernetes cannot watch output lines"),
        (p.ready_notify, "ready_notify", "Kubernetes has no sd_notify socket; use a readiness probe"),
        (p.ready_fd.is_some(), "ready_fd", "Kubernetes has no notification fd; use a readiness probe"),
        (p.watchdog.is_some(), "watchdog", "Kubernetes has no watchdog; use a liveness probe"),
        (!p.listen.is_empty(), "listen", "Kubernetes passes no sockets: the process must bind them itself (TCP/UDP ports are declared)"),
        (p.log_location.is_some(), "log_location", "the container's output goes to the cluster's logs (kubectl logs)"),
        (p.watch.is_some(), "watch", "file watching is for development"),
    ] {
        if set_ {
            warnings.process(name, field, what);
        }
    }
    (Value::Object(pod), waiter)
}

fn k8s_probe(set: &Set, name: &str, probe: &Probe, field: &str, liveness: bool, warnings: &mut Warnings) -> Value {
    let mut v = Map::new();
    if probe.exec.is_some() {
        v.insert("exec".into(), json!({ "command": set.probe_argv(name, probe) }));
    } else if let Some(h) = &probe.http_get {
        let mut g = json!({ "path": h.path, "port": set.probe_port(name, &h.port), "scheme": "HTTP" });
        if !is_loopback(&h.host) {
            g["host"] = h.host.clone().into();
        }
        if !h.headers.is_empty() {
            g["httpHeaders"] = Value::Array(h.headers.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect());
        }
        if h.status_code.is_some() {
            warnings.process(name, &format!("{field}.http_get.status_code"), "Kubernetes accepts any status from 200 to 399");
        }
        v.insert("httpGet".into(), g);
    } else if let Some(t) = &probe.tcp_socket {
        let mut s = json!({ "port": set.probe_port(name, &t.port) });
        if !is_loopback(&t.host) {
            s["host"] = t.host.clone().into();
        }
        v.insert("tcpSocket".into(), s);
    }
    v.insert("initialDelaySeconds".into(), whole_seconds(probe.initial_delay_seconds.0, 0).into());
    v.insert("periodSeconds".into(), whole_seconds(probe.period_seconds.0, 1).into());
    v.insert("timeoutSeconds".into(), whole_seconds(probe.timeout_seconds.0, 1).into());
    let success = if liveness { 1 } else { probe.success_threshold.max(1) };
    if liveness && probe.success_threshold > 1 {
        warnings.process(name, &format!("{field}.success_threshold"), "a liveness probe's successThreshold must be 1");
    }
    v.insert("successThreshold".into(), success.into());
    v.insert("failureThreshold".into(), probe.failure_threshold.max(1).into());
    Value::Object(v)
}

/// Probes run by the kubelet reach the pod's IP; a loopback host is left out.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
