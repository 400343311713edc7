//! What keys and events do to the dashboard's state.

use super::*;

fn info(name: &str, state: ProcessState, pid: Option<i32>) -> ProcessInfo {
    ProcessInfo { state, pid, ..ProcessInfo::pending(name.into()) }
}

fn app() -> App {
    let mut a = App::new(false);
    a.on_event(Event::State { process: info("db", ProcessState::Ready, Some(10)) });
    a.on_event(Event::State { process: info("api", ProcessState::Failed, None) });
    a
}

#[test]
fn keys_act_on_the_selected_process() {
    let mut a = app();
    assert_eq!(a.selected.as_deref(), Some("db"));
    a.on_key(Key::Down);
    match a.on_key(Key::Restart).as_slice() {
        [Effect::Request { command: RequestCommand::Restart { names }, .. }] => assert_eq!(names, &["api"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.on_key(Key::Quit), vec![Effect::Quit]);
}

#[test]
fn stopping_everything_and_quitting_a_run_ask_first() {
    let mut a = app();
    assert!(a.on_key(Key::StopAll).is_empty());
    assert_eq!(a.overlay, Overlay::Confirm(Confirm::StopAll));
    assert!(a.on_key(Key::Escape).is_empty(), "anything but Enter cancels");
    a.on_key(Key::StopAll);
    assert!(matches!(a.on_key(Key::ShowOne).as_slice(), [Effect::Request { command: RequestCommand::Down, .. }]));
    let mut owner = App::new(true);
    assert!(owner.on_key(Key::Quit).is_empty());
    assert_eq!(owner.on_key(Key::ShowOne), vec![Effect::StopAndQuit]);
}

#[test]
fn filter_and_sort_shape_the_table() {
    let mut a = app();
    a.on_key(Key::Sort);
    assert_eq!(a.visible().iter().map(|p| p.info.name.as_str()).collect::<Vec<_>>(), ["api", "db"]);
    a.on_key(Key::Filter);
    a.on_input_char(Some('d'), false, false);
    assert_eq!(a.visible().len(), 1);
    assert_eq!(a.selected.as_deref(), Some("db"));
    a.on_input_char(None, false, true);
    assert_eq!(a.visible().len(), 2);
}

#[test]
fn search_moves_to_matches_and_memory_stays_bounded() {
    let mut a = app();
    for i in 0..(MAX_LINES + 500) {
        a.push_line("db", &format!("line {i}"), None);
    }
    a.push_line("api", "the needle", None);
    a.push_line("db", "after", None);
    assert_eq!(a.view().len(), MAX_LINES);
    a.on_key(Key::Search);
    for c in "NEEDLE".chars() {
        a.on_input_char(Some(c), false, false);
    }
    a.on_input_char(None, true, false);
    assert_eq!(a.matched, Some(MAX_LINES - 2));
    assert!(!a.follow);
    a.on_key(Key::ShowOne);
    assert_eq!(a.view().len(), PER_PROCESS_LINES);
}

#[test]
fn scrolling_past_one_process_s_memory_reads_its_log_file() {
    let mut a = app();
    a.push_line("db", "x", None);
    a.on_key(Key::ShowOne);
    a.focus = Focus::Log;
    assert_eq!(a.on_key(Key::PageUp), vec![Effect::LoadHistory("db".into())]);
    a.on_history("db", (0..5000).map(|i| i.to_string()).collect());
    assert_eq!(a.view().len(), 5000);
    assert!(a.on_key(Key::PageUp).is_empty(), "asked once");
}

#[test]
fn select_mode_releases_the_mouse() {
    let mut a = app();
    assert_eq!(a.on_key(Key::Select), vec![Effect::Mouse(false)]);
    assert_eq!(a.on_key(Key::Select), vec![Effect::Mouse(true)]);
}
