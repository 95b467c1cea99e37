//! rhai scripts: routing and tagging rules users write instead of Rust.
//!
//! One engine for the process, built once with hard limits (operations, call depth,
//! expression depth, string/array/map sizes, a wall-clock budget) and nothing
//! reachable but the small API in [`api`]: no file system, no network, no `eval`,
//! no modules. Scripts are compiled once at config load; a syntax error is a config
//! error at `script.rhai:line:col`.

mod api;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rhai::{AST, Array, Dynamic, Engine, EvalAltResult, Map, Scope};
use serde::Serialize;
use sha2::Digest;

use crate::vocab::diagnostic::Diagnostic;

/// Operations a script may run per call (an empty loop runs ~15 M/s here, so this
/// stops a runaway script in a few milliseconds).
const MAX_OPERATIONS: u64 = 200_000;
/// Wall-clock budget per call, for work hidden inside native calls.
const MAX_WALL: Duration = Duration::from_millis(50);
const MAX_CALL_LEVELS: usize = 32;
const MAX_EXPR_DEPTH: usize = 64;
const MAX_STRING_BYTES: usize = 256 * 1024;
const MAX_ARRAY_ITEMS: usize = 10_000;
const MAX_MAP_ITEMS: usize = 1_000;

thread_local! {
    /// When the script running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_BYTES)
        .set_max_array_size(MAX_ARRAY_ITEMS)
        .set_max_map_size(MAX_MAP_ITEMS)
        .set_strict_variables(true)
        .disable_symbol("eval");
    engine.on_print(|text| tracing::info!(target: "ragline::script", "{text}"));
    engine.on_debug(|text, _, _| tracing::debug!(target: "ragline::script", "{text}"));
    engine.on_progress(|ops| {
        if ops % 512 != 0 {
            return None;
        }
        let late = DEADLINE
            .with(|d| d.get())
            .is_some_and(|deadline| Instant::now() > deadline);
        late.then(|| Dynamic::from("time limit"))
    });
    api::register(&mut engine);
    engine
});

/// A compiled script, ready to call.
#[derive(Clone)]
pub struct Script {
    pub path: PathBuf,
    /// First 12 hex digits of the sha256 of the script's text.
    pub hash: String,
    ast: Arc<AST>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("path", &self.path).finish()
    }
}

/// Why a script call failed. Messages name the script and, where known, the line.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}: stopped after {MAX_OPERATIONS} operations (an endless loop?)")]
    TooManyOperations { path: String },
    #[error("{path}: stopped after {} ms", MAX_WALL.as_millis())]
    TimeLimit { path: String },
    #[error("{path}: recursion deeper than {MAX_CALL_LEVELS} calls")]
    StackOverflow { path: String },
    #[error("{path}: {what} exceeds the script size limits")]
    TooLarge { path: String, what: String },
    #[error("{path}:{line}: {message}")]
    Runtime { path: String, line: usize, message: String },
    #[error("{path}: `{function}` returned {got}; expected {expected}")]
    WrongReturn {
        path: String,
        function: String,
        got: String,
        expected: String,
    },
}

impl Script {
    /// Read and compile `file`, which must define `fn <function>(<one parameter>)`.
    ///
    /// # Errors
    /// A diagnostic at the script's `line:col` for syntax errors, or at 1:1 for a
    /// missing file or entry function.
    pub fn load(file: &Path, function: &str) -> Result<Script, Diagnostic> {
        let text =
            std::fs::read_to_string(file).map_err(|e| Diagnostic::file(file, format!("cannot read script: {e}")))?;
        let ast = ENGINE.compile(&text).map_err(|e| Diagnostic {
            file: file.to_path_buf(),
            line: e.1.line().unwrap_or(1) as u64,
            column: e.1.position().unwrap_or(1) as u64,
            key_path: String::new(),
            message: format!("syntax error: {}", e.0),
        })?;
        if !ast.iter_functions().any(|f| f.name == function && f.params.len() == 1) {
            return Err(Diagnostic::file(
                file,
                format!("the script must define `fn {function}(input)` taking one argument"),
            ));
        }
        let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()))[..12].to_owned();
        Ok(Script {
            path: file.to_path_buf(),
            hash,
            ast: Arc::new(ast),
        })
    }

    /// Call `function(input)` under the sandbox limits.
    ///
    /// # Errors
    /// [`ScriptError`] for runtime errors and exceeded limits.
    pub fn call(&self, function: &str, input: Dynamic) -> Result<Dynamic, ScriptError> {
        DEADLINE.with(|d| d.set(Some(Instant::now() + MAX_WALL)));
        let result = ENGINE.call_fn::<Dynamic>(&mut Scope::new(), &self.ast, function, (input,));
        DEADLINE.with(|d| d.set(None));
        result.map_err(|e| self.error(&e))
    }

    fn error(&self, e: &EvalAltResult) -> ScriptError {
        let path = self.path.display().to_string();
        match e.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => ScriptError::TooManyOperations { path },
            EvalAltResult::ErrorTerminated(..) => ScriptError::TimeLimit { path },
            EvalAltResult::ErrorStackOverflow(_) => ScriptError::StackOverflow { path },
            EvalAltResult::ErrorDataTooLarge(what, _) => ScriptError::TooLarge {
                path,
                what: what.clone(),
            },
            inner => ScriptError::Runtime {
                path,
                line: inner.position().line().or(e.position().line()).unwrap_or(0),
                message: inner.to_string().split(" (line ").next().unwrap_or_default().to_owned(),
            },
        }
    }

    /// A [`ScriptError::WrongReturn`] for this script.
    pub fn wrong_return(&self, function: &str, got: &Dynamic, expected: &str) -> ScriptError {
        ScriptError::WrongReturn {
            path: self.path.display().to_string(),
            function: function.to_owned(),
            got: describe(got),
            expected: expected.to_owned(),
        }
    }
}

/// A value's type as a script author would name it.
pub fn describe(v: &Dynamic) -> String {
    match v.type_name() {
        "()" => "nothing (did the function end without returning a value?)".to_owned(),
        "string" | "ImmutableString" => format!("a string ({v})"),
        t if t.contains("Map") || t == "map" => "a map".to_owned(),
        t if t.contains("Array") || t == "array" => "an array".to_owned(),
        t => format!("a value of type {t} ({v})"),
    }
}

/// Any serializable value as a rhai value (maps, arrays, strings, numbers).
pub fn to_dynamic<T: Serialize>(value: &T) -> Dynamic {
    match serde_json::to_value(value) {
        Ok(v) => json_to_dynamic(v),
        Err(_) => Dynamic::UNIT,
    }
}

fn json_to_dynamic(v: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| n.as_f64().unwrap_or(0.0).into(), Dynamic::from),
        Value::String(s) => s.into(),
        Value::Array(a) => Dynamic::from_array(a.into_iter().map(json_to_dynamic).collect::<Array>()),
        Value::Object(o) => Dynamic::from_map(
            o.into_iter()
                .map(|(k, v)| (k.into(), json_to_dynamic(v)))
                .collect::<Map>(),
        ),
    }
}

#[cfg(test)]
mod tests;
