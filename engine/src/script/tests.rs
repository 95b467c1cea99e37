use std::time::{Duration, Instant};

use rhai::Dynamic;

use super::*;

fn script(body: &str) -> (tempfile::TempDir, Result<Script, Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rule.rhai");
    std::fs::write(&path, body).unwrap();
    let s = Script::load(&path, "route");
    (dir, s)
}

fn run(body: &str) -> Result<Dynamic, ScriptError> {
    let (_dir, s) = script(body);
    s.unwrap().call("route", Dynamic::from("q"))
}

#[test]
fn returns_values() {
    let out = run(r#"fn route(q) { #{ model: "lite", words: word_count("a b c") } }"#).unwrap();
    let map = out.cast::<rhai::Map>();
    assert_eq!(map["model"].clone().into_string().unwrap(), "lite");
    assert_eq!(map["words"].as_int().unwrap(), 3);
}

#[test]
fn infinite_loop_is_stopped_quickly() {
    let started = Instant::now();
    let err = run("fn route(q) { loop { } }").unwrap_err();
    assert!(
        matches!(
            err,
            ScriptError::TooManyOperations { .. } | ScriptError::TimeLimit { .. }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("rule.rhai"));
}

#[test]
fn deep_recursion_is_stopped() {
    let err = run("fn f(n) { f(n + 1) } fn route(q) { f(0) }").unwrap_err();
    assert!(matches!(err, ScriptError::StackOverflow { .. }), "{err}");
}

#[test]
fn huge_string_is_stopped() {
    let err = run(r#"fn route(q) { let s = "x"; loop { s += s; } }"#).unwrap_err();
    assert!(matches!(err, ScriptError::TooLarge { .. }), "{err}");
}

#[test]
fn huge_array_is_stopped() {
    let err = run("fn route(q) { let a = []; loop { a.push(1); } }").unwrap_err();
    assert!(
        matches!(
            err,
            ScriptError::TooLarge { .. } | ScriptError::TooManyOperations { .. } | ScriptError::TimeLimit { .. }
        ),
        "{err}"
    );
}

#[test]
fn runtime_error_names_the_line() {
    let err = run("fn route(q) {\n  let x = 1;\n  x / 0\n}").unwrap_err();
    match &err {
        ScriptError::Runtime { line, message, .. } => {
            assert_eq!(*line, 3, "{err}");
            assert!(message.contains("Division by zero"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn undefined_variable_is_caught_at_load() {
    let (_dir, s) = script("fn route(q) {\n  nope\n}");
    let d = s.unwrap_err();
    assert_eq!((d.line, d.column), (2, 3), "{d}");
    assert!(d.message.contains("Undefined variable: nope"), "{d}");
}

#[test]
fn out_of_bounds_is_a_runtime_error_not_a_crash() {
    let err = run("fn route(q) { let a = [1]; a[5] }").unwrap_err();
    assert!(matches!(err, ScriptError::Runtime { line: 1, .. }), "{err}");
}

#[test]
fn syntax_error_is_a_located_config_error() {
    let (_dir, s) = script("fn route(q) {\n  let x = ;\n}");
    let d = s.unwrap_err();
    assert_eq!(d.line, 2, "{d}");
    assert!(d.message.starts_with("syntax error"), "{d}");
}

#[test]
fn missing_entry_function_is_a_config_error() {
    let (_dir, s) = script("fn other(q) { 1 }");
    assert!(s.unwrap_err().message.contains("fn route(input)"));
}

#[test]
fn eval_and_import_are_unavailable() {
    let (_dir, s) = script(r#"fn route(q) { eval("1") }"#);
    assert!(s.is_err(), "eval must not compile");
    let (_dir, s) = script(r#"import "os" as os; fn route(q) { 1 }"#);
    assert!(s.is_err(), "modules must not compile");
}

#[test]
fn wrong_return_type_is_described() {
    let (_dir, s) = script("fn route(q) { 42 }");
    let s = s.unwrap();
    let v = s.call("route", Dynamic::UNIT).unwrap();
    let err = s.wrong_return("route", &v, "a map");
    assert!(
        err.to_string()
            .contains("returned a value of type i64 (42); expected a map"),
        "{err}"
    );
}
