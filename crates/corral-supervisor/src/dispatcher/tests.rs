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
