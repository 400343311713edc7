//! The dispatcher's decisions, without a process: events in, actions out.
//! The "actors" are units; what an actor would report is fed as an event.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_protocol::{ErrorCode, ProcessState, Response};

use super::control::Ctl;
use super::core::{Action, Core, InternalEvent};
use super::record::ProcessRecord;
use crate::actor::{ActorCommand, Event};
use crate::exit::EndCause;
use crate::plan::Plan;
use crate::state::ExitKind;

use Action::*;
use ActorCommand::*;

struct T {
    core: Core<()>,
    now: Instant,
}

impl T {
    fn new(config: serde_json::Value) -> T {
        T::watching(config, false)
    }

    fn watching(config: serde_json::Value, watching: bool) -> T {
        let config: corral_config::Config = serde_json::from_value(config).unwrap();
        let plan = Plan::from_config(&config, &[], Path::new("/project")).unwrap();
        let records = plan.processes.into_iter().map(|s| ProcessRecord::new(Arc::new(s), ())).collect();
        T { core: Core::new(records, PathBuf::from("/project"), watching, vec![]), now: Instant::now() }
    }

    fn on(&mut self, ev: InternalEvent) -> Vec<Action> {
        let mut out = Vec::new();
        self.core.handle(ev, self.now, &mut out);
        out
    }

    /// Only the messages to actors (and the kill), in order.
    fn commands(&mut self, ev: InternalEvent) -> Vec<Action> {
        self.on(ev).into_iter().filter(|a| matches!(a, Send(..) | KillAllGroups)).collect()
    }

    fn index(&self, name: &str) -> usize {
        self.core.records.iter().position(|r| r.name() == name).unwrap()
    }

    fn actor(&mut self, name: &str, ev: Event) -> Vec<Action> {
        let i = self.index(name);
        self.commands(InternalEvent::Actor(i, ev))
    }

    fn state(&self, name: &str) -> ProcessState {
        self.core.snapshot(self.now).into_iter().find(|p| p.name == name).unwrap().state
    }

    fn after(&mut self, d: Duration) {
        self.now += d;
    }

    fn replies(actions: &[Action]) -> Vec<(u64, corral_protocol::Reply)> {
        actions.iter().filter_map(|a| if let Reply(to, r) = a { Some((*to, r.clone())) } else { None }).collect()
    }
}

fn db_api() -> serde_json::Value {
    serde_json::json!({"processes": {
        "db": {"command": "db"},
        "api": {"command": "api", "depends_on": {"db": {"condition": "process_started"}}}
    }})
}

#[test]
fn processes_start_in_dependency_order() {
    let mut t = T::new(db_api());
    let (db, api) = (t.index("db"), t.index("api"));
    assert_eq!(t.commands(InternalEvent::Activate), [Send(db, Start)]);
    assert_eq!(t.state("api"), ProcessState::Waiting);
    assert_eq!(t.actor("db", Event::Spawned { pid: 10 }), [Send(api, Start)]);
    assert_eq!(t.actor("api", Event::Spawned { pid: 11 }), []);
    assert_eq!(t.core.outcome(), None);
}

#[test]
fn a_stop_signal_stops_dependents_first_and_a_second_kills_everything() {
    let mut t = T::new(db_api());
    let (db, api) = (t.index("db"), t.index("api"));
    t.on(InternalEvent::Activate);
    t.actor("db", Event::Spawned { pid: 10 });
    t.actor("api", Event::Spawned { pid: 11 });
    assert_eq!(t.commands(InternalEvent::StopSignal("SIGTERM")), [Send(api, Stop)], "db waits for api");
    assert_eq!(t.actor("api", Event::Exited(ExitKind::Signal(15))), [Send(db, Stop)]);
    assert_eq!(t.commands(InternalEvent::StopSignal("SIGTERM")), [Send(db, Kill), Send(api, Kill), KillAllGroups]);
    assert_eq!(t.commands(InternalEvent::StopSignal("SIGTERM")), [], "a third signal changes nothing");
    assert_eq!(t.core.outcome(), None, "db has not reported its exit");
    // db never reports: after the bound, the run gives up on it.
    t.after(Duration::from_secs(6));
    assert!(t.core.next_deadline().is_some_and(|d| d <= t.now));
    t.on(InternalEvent::Tick);
    assert_eq!(t.core.outcome(), Some((EndCause::Forced, false)));
}

#[test]
fn a_clean_stop_ends_with_every_process_completed() {
    let mut t = T::new(db_api());
    t.on(InternalEvent::Activate);
    t.actor("db", Event::Spawned { pid: 10 });
    t.actor("api", Event::Spawned { pid: 11 });
    t.on(InternalEvent::StopSignal("SIGINT"));
    t.actor("api", Event::Exited(ExitKind::Signal(15)));
    assert_eq!(t.core.outcome(), None);
    t.actor("db", Event::Exited(ExitKind::Code(0)));
    assert_eq!(t.core.outcome(), Some((EndCause::Stopped, true)));
}

#[test]
fn a_restart_waits_for_the_machine_s_deadline() {
    let mut t = T::new(serde_json::json!({"processes": {"w": {"command": "w", "availability": {"restart": "always", "backoff_seconds": 2}}}}));
    t.on(InternalEvent::Activate);
    t.actor("w", Event::Spawned { pid: 5 });
    assert_eq!(t.core.next_deadline(), None);
    assert_eq!(t.actor("w", Event::Exited(ExitKind::Code(1))), []);
    assert_eq!(t.core.next_deadline(), Some(t.now + Duration::from_secs(2)));
    t.after(Duration::from_secs(1));
    assert_eq!(t.commands(InternalEvent::Tick), [], "too early");
    t.after(Duration::from_secs(1));
    assert_eq!(t.commands(InternalEvent::Tick), [Send(0, Start)]);
    assert_eq!(t.core.next_deadline(), None);
    // A stop during the backoff ends it at once: nothing to wait for.
    t.actor("w", Event::Spawned { pid: 6 });
    t.actor("w", Event::Exited(ExitKind::Code(1)));
    assert_eq!(t.commands(InternalEvent::StopSignal("SIGTERM")), []);
    assert_eq!(t.core.next_deadline(), None);
    assert_eq!(t.core.outcome(), Some((EndCause::Stopped, true)));
}

#[test]
fn exit_on_end_stops_the_run_with_the_process_s_status() {
    let mut t = T::new(serde_json::json!({"processes": {
        "test": {"command": "t", "availability": {"exit_on_end": true}},
        "db": {"command": "db"}
    }}));
    t.on(InternalEvent::Activate);
    t.actor("db", Event::Spawned { pid: 1 });
    t.actor("test", Event::Spawned { pid: 2 });
    let db = t.index("db");
    assert_eq!(t.actor("test", Event::Exited(ExitKind::Code(4))), [Send(db, Stop)]);
    t.actor("db", Event::Exited(ExitKind::Signal(15)));
    assert_eq!(t.core.outcome(), Some((EndCause::ExitOnEnd(4), false)));
}

#[test]
fn exit_on_skipped_stops_the_run_when_a_dependency_fails() {
    let mut t = T::new(serde_json::json!({"processes": {
        "init": {"command": "i"},
        "app": {"command": "a", "availability": {"exit_on_skipped": true}, "depends_on": {"init": {"condition": "process_completed_successfully"}}}
    }}));
    t.on(InternalEvent::Activate);
    t.actor("init", Event::Spawned { pid: 1 });
    t.actor("init", Event::Exited(ExitKind::Code(1)));
    assert_eq!(t.state("app"), ProcessState::Skipped);
    assert_eq!(t.core.outcome(), Some((EndCause::ExitOnSkipped, false)));
}

#[test]
fn stop_on_request_holds_processes_and_answers_once_they_stopped() {
    let mut t = T::new(db_api());
    let (db, api) = (t.index("db"), t.index("api"));
    t.on(InternalEvent::Activate);
    t.actor("db", Event::Spawned { pid: 10 });
    t.actor("api", Event::Spawned { pid: 11 });
    let acts = t.on(InternalEvent::Control(1, Ctl::Stop(vec!["db".into()])));
    assert!(acts.contains(&Send(api, Stop)) && !acts.contains(&Send(db, Stop)), "{acts:?}");
    assert!(T::replies(&acts).is_empty(), "answered only once stopped");
    let acts = t.on(InternalEvent::Actor(api, Event::Exited(ExitKind::Signal(15))));
    assert!(acts.contains(&Send(db, Stop)));
    let acts = t.on(InternalEvent::Actor(db, Event::Exited(ExitKind::Signal(15))));
    assert_eq!(T::replies(&acts), [(1, Ok(Response::Stopped { stopped: vec!["db".into(), "api".into()] }))]);
    assert_eq!((t.state("db"), t.state("api")), (ProcessState::Stopped, ProcessState::Stopped));
    assert_eq!(t.core.outcome(), None, "held processes keep the run alive");
    // start api: db first (it depends on it), then api once db runs.
    let acts = t.on(InternalEvent::Control(2, Ctl::Start(vec!["api".into()])));
    assert_eq!(T::replies(&acts), [(2, Ok(Response::Started { started: vec!["db".into(), "api".into()] }))]);
    assert!(acts.contains(&Send(db, Start)) && !acts.contains(&Send(api, Start)));
    assert_eq!(t.actor("db", Event::Spawned { pid: 20 }), [Send(api, Start)]);
}

#[test]
fn restart_on_request_stops_then_starts_and_answers() {
    let mut t = T::new(db_api());
    let db = t.index("db");
    t.on(InternalEvent::Activate);
    t.actor("db", Event::Spawned { pid: 10 });
    t.actor("api", Event::Spawned { pid: 11 });
    let acts = t.on(InternalEvent::Control(3, Ctl::Restart(vec!["db".into()])));
    assert!(acts.contains(&Send(db, Stop)), "restart stops db alone: {acts:?}");
    let acts = t.on(InternalEvent::Actor(db, Event::Exited(ExitKind::Signal(15))));
    assert!(acts.contains(&Send(db, Start)), "{acts:?}");
    assert_eq!(T::replies(&acts), [(3, Ok(Response::Stopped { stopped: vec!["db".into()] }))]);
    assert_eq!(t.state("db"), ProcessState::Starting);
    assert_eq!(t.state("api"), ProcessState::Running);
}

#[test]
fn unknown_names_and_empty_requests_are_errors() {
    let mut t = T::new(db_api());
    t.on(InternalEvent::Activate);
    let acts = t.on(InternalEvent::Control(4, Ctl::Stop(vec!["nope".into()])));
    let mut replies = T::replies(&acts);
    let Some((4, Err(e))) = replies.pop() else { panic!("{acts:?}") };
    assert_eq!(e.code, ErrorCode::UnknownProcess);
    assert!(e.message.contains("known: db, api"), "{}", e.message);
    let acts = t.on(InternalEvent::Control(5, Ctl::Start(vec![])));
    assert!(matches!(&T::replies(&acts)[..], [(5, Err(e))] if e.code == ErrorCode::BadRequest));
}

#[test]
fn readiness_is_pending_then_ready_or_failed() {
    let mut t = T::new(serde_json::json!({"processes": {
        "db": {"command": "db", "ready_log_line": "up"},
        "once": {"command": "o"}
    }}));
    t.on(InternalEvent::Activate);
    let ready = |t: &mut T| T::replies(&t.on(InternalEvent::Control(9, Ctl::Readiness))).remove(0).1;
    assert_eq!(ready(&mut t), Ok(Response::Ready { ready: false }));
    t.actor("db", Event::Spawned { pid: 1 });
    t.actor("db", Event::Ready);
    t.actor("once", Event::Spawned { pid: 2 });
    t.actor("once", Event::Exited(ExitKind::Code(0)));
    assert_eq!(ready(&mut t), Ok(Response::Ready { ready: true }));
    let mut t = T::new(serde_json::json!({"processes": {"once": {"command": "o"}}}));
    t.on(InternalEvent::Activate);
    t.actor("once", Event::Spawned { pid: 2 });
    t.actor("once", Event::Exited(ExitKind::Code(1)));
    assert!(matches!(ready(&mut t), Err(e) if e.code == ErrorCode::Failed && e.message == "once failed: exited with status 1"));
}

#[test]
fn a_file_change_restarts_a_running_process_and_reruns_an_ended_one() {
    let mut t = T::watching(serde_json::json!({"processes": {
        "build": {"command": "b", "watch": {"paths": ["src"]}},
        "serve": {"command": "s", "watch": {"paths": ["src"]}}
    }}), true);
    let (build, serve) = (t.index("build"), t.index("serve"));
    t.on(InternalEvent::Activate);
    t.actor("build", Event::Spawned { pid: 1 });
    t.actor("build", Event::Exited(ExitKind::Code(0)));
    t.actor("serve", Event::Spawned { pid: 2 });
    assert_eq!(t.core.outcome(), None, "watching keeps the run alive");
    assert_eq!(t.commands(InternalEvent::FileChanged(build, "/project/src/a.rs".into())), [Send(build, Start)]);
    assert_eq!(t.commands(InternalEvent::FileChanged(serve, "/project/src/a.rs".into())), [Send(serve, Stop)]);
    assert_eq!(t.actor("serve", Event::Exited(ExitKind::Signal(15))), [Send(serve, Start)]);
    assert_eq!(t.state("serve"), ProcessState::Starting);
}

#[test]
fn an_sd_notify_status_is_published_and_shown() {
    let mut t = T::new(db_api());
    t.on(InternalEvent::Activate);
    let db = t.index("db");
    assert_eq!(t.on(InternalEvent::Actor(db, Event::Status("warming up".into()))), [Publish(db)]);
    let info = t.core.snapshot(t.now).into_iter().find(|p| p.name == "db").unwrap();
    assert_eq!(info.status.as_deref(), Some("warming up"));
}

#[test]
fn every_transition_is_published() {
    let mut t = T::new(db_api());
    let (db, api) = (t.index("db"), t.index("api"));
    let acts = t.on(InternalEvent::Activate);
    // db: waiting, then starting; api: waiting.
    assert_eq!(acts.iter().filter(|a| **a == Publish(db)).count(), 2, "{acts:?}");
    assert_eq!(acts.iter().filter(|a| **a == Publish(api)).count(), 1, "{acts:?}");
}

/// `api` loaded with `replicas: 2` (as the loader leaves it: names and
/// `PC_` variables), and a `client` waiting for every replica.
fn replicated(condition: &str) -> serde_json::Value {
    let replica = |n: u32| serde_json::json!({"command": "api", "environment": [format!("PC_PROC_NAME=api"), format!("PC_REPLICA_NUM={n}")]});
    serde_json::json!({"processes": {
        "api-0": replica(0),
        "api-1": replica(1),
        "client": {"command": "client", "depends_on": {"api-0": {"condition": condition}, "api-1": {"condition": condition}}}
    }})
}

fn scale(t: &mut T, name: &str, n: u32) -> (Vec<Action>, corral_protocol::Reply) {
    let actions = t.on(InternalEvent::Control(7, Ctl::Scale(name.into(), n)));
    let reply = T::replies(&actions).pop().expect("scale is answered at once").1;
    (actions.into_iter().filter(|a| matches!(a, Send(..) | AddActor { .. })).collect(), reply)
}

#[test]
fn scaling_up_adds_replicas_that_start_and_that_dependents_wait_for() {
    let mut t = T::new(replicated("process_started"));
    t.on(InternalEvent::Activate);
    let (actions, reply) = scale(&mut t, "api", 3);
    assert_eq!(reply, Ok(Response::Scaled { replicas: vec!["api-0".into(), "api-1".into(), "api-2".into()] }));
    assert_eq!(actions, [AddActor { index: 3, template: 0 }, Send(3, Start)]);
    let spec = &t.core.records[3].spec;
    assert_eq!(spec.replica, Some(crate::plan::Replica { of: "api".into(), num: 2 }));
    assert!(spec.environment.contains(&("PC_REPLICA_NUM".into(), "2".into())), "{:?}", spec.environment);
    let info = t.core.snapshot(t.now).into_iter().find(|p| p.name == "api-2").unwrap();
    assert_eq!((info.state, info.replica), (ProcessState::Starting, Some(2)));
    // The client counts the new set: it starts only once all three have started.
    t.actor("api-0", Event::Spawned { pid: 10 });
    assert_eq!(t.actor("api-1", Event::Spawned { pid: 11 }), []);
    assert_eq!(t.state("client"), ProcessState::Waiting);
    let client = t.index("client");
    assert_eq!(t.actor("api-2", Event::Spawned { pid: 12 }), [Send(client, Start)]);
}

#[test]
fn scaling_down_stops_the_highest_replicas_and_takes_them_out_of_the_set() {
    let mut t = T::new(replicated("process_started"));
    t.on(InternalEvent::Activate);
    scale(&mut t, "api", 3).1.unwrap();
    for (n, pid) in [("api-0", 10), ("api-1", 11), ("api-2", 12), ("client", 13)] {
        t.actor(n, Event::Spawned { pid });
    }
    let (actions, reply) = scale(&mut t, "api", 1);
    assert_eq!(reply, Ok(Response::Scaled { replicas: vec!["api-0".into()] }));
    assert_eq!(actions, [Send(1, Stop), Send(3, Stop)], "api-1 and api-2 stop; the client is not disturbed");
    t.actor("api-1", Event::Exited(ExitKind::Signal(15)));
    t.actor("api-2", Event::Exited(ExitKind::Signal(15)));
    let names: Vec<String> = t.core.snapshot(t.now).into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["api-0", "client"]);
    assert_eq!(t.state("client"), ProcessState::Running);
    // Removed replicas do not keep the run alive.
    t.actor("client", Event::Exited(ExitKind::Code(0)));
    t.actor("api-0", Event::Exited(ExitKind::Code(0)));
    assert_eq!(t.core.outcome(), Some((EndCause::Natural, true)));
}

#[test]
fn scaling_up_again_brings_back_a_removed_replica() {
    let mut t = T::new(replicated("process_started"));
    t.on(InternalEvent::Activate);
    t.actor("api-0", Event::Spawned { pid: 10 });
    t.actor("api-1", Event::Spawned { pid: 11 });
    scale(&mut t, "api", 1).1.unwrap();
    t.actor("api-1", Event::Exited(ExitKind::Signal(15)));
    let (actions, reply) = scale(&mut t, "api", 2);
    assert_eq!(reply, Ok(Response::Scaled { replicas: vec!["api-0".into(), "api-1".into()] }));
    assert_eq!(actions, [Send(1, Start)], "the same record, no new actor");
    // Brought back while still stopping: it starts again once stopped.
    t.actor("api-1", Event::Spawned { pid: 12 });
    scale(&mut t, "api", 1).1.unwrap();
    let (actions, _) = scale(&mut t, "api", 2);
    assert_eq!(actions, []);
    assert_eq!(t.actor("api-1", Event::Exited(ExitKind::Signal(15))), [Send(1, Start)]);
}

#[test]
fn scale_refuses_what_process_compose_refuses_and_names_the_set() {
    let mut t = T::new(replicated("process_started"));
    t.on(InternalEvent::Activate);
    let err = |r: corral_protocol::Reply| r.unwrap_err();
    let e = err(scale(&mut t, "api", 0).1);
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("from 1 to 1000, got 0"), "{}", e.message);
    assert!(err(scale(&mut t, "api", 1001).1).message.contains("got 1001"));
    assert_eq!(err(scale(&mut t, "api-1", 2).1).message, "api-1 is replica 1 of api: scale api");
    assert_eq!(err(scale(&mut t, "nope", 2).1).code, ErrorCode::UnknownProcess);
    // An unreplicated process is replica 0 of its own set.
    let (actions, reply) = scale(&mut t, "client", 2);
    assert_eq!(reply, Ok(Response::Scaled { replicas: vec!["client".into(), "client-1".into()] }));
    assert!(actions.contains(&AddActor { index: 3, template: 2 }), "{actions:?}");
    t.on(InternalEvent::StopSignal("SIGTERM"));
    assert_eq!(err(scale(&mut t, "api", 3).1).message, "the run is stopping");
}

#[test]
fn a_process_with_sockets_made_before_the_run_cannot_gain_replicas() {
    let mut t = T::new(serde_json::json!({"processes": {"n": {"command": "n", "ready_notify": true}}}));
    t.on(InternalEvent::Activate);
    let e = scale(&mut t, "n", 2).1.unwrap_err();
    assert!(e.message.contains("ready_notify"), "{}", e.message);
}

#[test]
fn a_daemon_s_pid_replaces_its_launcher_s_in_ps() {
    let mut t = T::new(serde_json::json!({"processes": {"d": {"command": "d", "is_daemon": true}}}));
    t.on(InternalEvent::Activate);
    t.actor("d", Event::Spawned { pid: 10 });
    assert_eq!(t.on(InternalEvent::Actor(0, Event::DaemonPid(77))), [Publish(0)]);
    let info = &t.core.snapshot(t.now)[0];
    assert_eq!((info.state, info.pid), (ProcessState::Running, Some(77)));
}
