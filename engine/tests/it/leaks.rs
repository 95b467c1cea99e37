//! A property test for leaks between domains, over HTTP on a real server: proptest
//! draws a role, a pipeline, a question (often naming another domain's code word), a
//! request filter, `top_k`, an endpoint (JSON, streamed, OpenAI) and a cache state (the
//! same question asked first by an admin, so any answer cache is warm with what the
//! admin may see). No response may carry a source, an answer or a cache hit from a
//! domain outside the key's grant, and a request within the grant is never refused.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{SERVER_CONFIG, Server, client, copy_dir, create_key};

const DOMAINS: [&str; 4] = ["hr", "legal", "marketing", "engineering"];

/// Roles and the domains they may read.
const ROLES: [(&str, &[&str]); 5] = [
    ("hr-only", &["hr"]),
    ("legal-only", &["legal"]),
    ("hr-legal", &["hr", "legal"]),
    ("marketing-engineering", &["marketing", "engineering"]),
    ("engineering-only", &["engineering"]),
];

const PIPELINES: [&str; 3] = ["all", "hr", "legal"];

/// A word only the documents of `domain` contain.
fn code_word(domain: &str) -> String {
    format!("zebra{domain}quokka")
}

/// Questions: about each domain's documents, naming a code word, or off-topic.
fn question() -> impl Strategy<Value = String> {
    let topics = prop::sample::select(vec![
        "How many vacation days do employees get?",
        "Who signs the non-disclosure agreement?",
        "What is the launch budget for the spring campaign?",
        "How are production incidents escalated?",
        "What is the policy on remote work?",
        "What does the contract say about confidential information?",
        "Tell me about the weather on Mars.",
    ]);
    let words = prop::sample::subsequence(DOMAINS.to_vec(), 0..=2);
    (topics, words).prop_map(|(topic, words)| {
        let codes: Vec<String> = words.iter().map(|d| code_word(d)).collect();
        format!("{topic} {}", codes.join(" ")).trim().to_owned()
    })
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Json,
    Stream,
    OpenAi,
}

#[derive(Debug, Clone)]
struct Case {
    role: usize,
    pipeline: &'static str,
    question: String,
    /// Domains the request asks for (none: no filter).
    domains: Vec<&'static str>,
    /// A `doc_type` filter on top.
    doc_type: bool,
    top_k: usize,
    endpoint: Endpoint,
    /// Ask the same question as the admin first.
    admin_first: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ROLES.len(),
        // Mostly the pipeline that sees every domain, where a leak could come from.
        prop_oneof![3 => Just("all"), 1 => prop::sample::select(PIPELINES.to_vec())],
        question(),
        prop_oneof![Just(Vec::new()), prop::sample::subsequence(DOMAINS.to_vec(), 1..=2)],
        any::<bool>(),
        1usize..=10,
        prop::sample::select(vec![Endpoint::Json, Endpoint::Stream, Endpoint::OpenAi]),
        any::<bool>(),
    )
        .prop_map(
            |(role, pipeline, question, domains, doc_type, top_k, endpoint, admin_first)| Case {
                role,
                pipeline,
                question,
                domains,
                doc_type,
                top_k,
                endpoint,
                admin_first,
            },
        )
}

/// What a response showed: its status, error code, the sources' domains and texts, and
/// the answer.
#[derive(Debug, Default)]
struct Seen {
    status: u16,
    code: String,
    domains: Vec<String>,
    texts: Vec<String>,
    answer: String,
    cache: String,
}

fn sources(seen: &mut Seen, sources: &Value) {
    for s in sources.as_array().into_iter().flatten() {
        seen.domains.push(s["domain"].as_str().unwrap_or_default().to_owned());
        seen.texts.push(s["text"].as_str().unwrap_or_default().to_owned());
    }
}

async fn ask(s: &Server, key: &str, c: &Case) -> Seen {
    let mut filters = serde_json::Map::new();
    if c.doc_type {
        filters.insert("doc_type".into(), json!(["note"]));
    }
    let mut body = json!({ "query": c.question, "top_k": c.top_k, "filters": filters });
    if !c.domains.is_empty() {
        body["domain"] = json!(c.domains);
    }
    let request = match c.endpoint {
        Endpoint::Json => client()
            .post(s.url(&format!("/v1/pipelines/{}/query", c.pipeline)))
            .json(&body),
        Endpoint::Stream => {
            body["stream"] = json!(true);
            client()
                .post(s.url(&format!("/v1/pipelines/{}/query", c.pipeline)))
                .json(&body)
        }
        Endpoint::OpenAi => {
            let mut options = json!({ "top_k": c.top_k, "filters": filters });
            if !c.domains.is_empty() {
                options["domain"] = json!(c.domains);
            }
            client().post(s.url("/v1/chat/completions")).json(&json!({
                "model": c.pipeline,
                "messages": [{ "role": "user", "content": c.question }],
                "ragline": options,
            }))
        }
    };
    let r = request.bearer_auth(key).send().await.unwrap();
    let mut seen = Seen {
        status: r.status().as_u16(),
        ..Seen::default()
    };
    let streamed = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    if seen.status != 200 {
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        seen.code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
        return seen;
    }
    if streamed {
        let mut event = "";
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("event: ") {
                event = name;
            } else if let Some(data) = line.strip_prefix("data: ") {
                let data: Value = serde_json::from_str(data).unwrap();
                match event {
                    "sources" => sources(&mut seen, &data),
                    "done" => seen.answer = data["answer"].as_str().unwrap_or_default().to_owned(),
                    "error" => panic!("stream failed: {data}"),
                    _ => {}
                }
            }
        }
        return seen;
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    match c.endpoint {
        Endpoint::OpenAi => {
            sources(&mut seen, &body["ragline"]["sources"]);
            seen.answer = body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            seen.cache = body["ragline"]["cache"].as_str().unwrap_or_default().to_owned();
        }
        _ => {
            sources(&mut seen, &body["sources"]);
            seen.answer = body["answer"].as_str().unwrap_or_default().to_owned();
            seen.cache = body["cache"].as_str().unwrap_or_default().to_owned();
        }
    }
    seen
}

/// The domains `pipeline` sees of its own (the fixtures' `hr` and `legal` filter on
/// their name; `all` sees every domain).
fn pipeline_domains(pipeline: &str) -> Vec<&'static str> {
    match pipeline {
        "all" => DOMAINS.to_vec(),
        p => DOMAINS.iter().copied().filter(|d| *d == p).collect(),
    }
}

fn check(c: &Case, seen: &Seen) -> Result<(), String> {
    let granted: BTreeSet<&str> = ROLES[c.role].1.iter().copied().collect();
    let forbidden: Vec<&str> = DOMAINS.iter().copied().filter(|d| !granted.contains(d)).collect();
    for d in &seen.domains {
        if !granted.contains(d.as_str()) {
            return Err(format!("a source from `{d}`: {seen:?}"));
        }
    }
    for f in &forbidden {
        let word = code_word(f);
        if seen.answer.contains(&word) || seen.texts.iter().any(|t| t.contains(&word)) {
            return Err(format!("`{f}`'s code word in the response: {seen:?}"));
        }
    }
    let visible: Vec<&str> = pipeline_domains(c.pipeline)
        .into_iter()
        .filter(|d| granted.contains(d))
        .collect();
    let asks_outside = c.domains.iter().any(|d| !granted.contains(d));
    let asks_outside_pipeline = c.domains.iter().any(|d| !pipeline_domains(c.pipeline).contains(d));
    match seen.status {
        200 if asks_outside => Err(format!("asked for a domain outside the grant and got 200: {seen:?}")),
        200 if visible.is_empty() => Err(format!(
            "a pipeline with none of the granted domains answered: {seen:?}"
        )),
        200 => Ok(()),
        403 if asks_outside || visible.is_empty() || asks_outside_pipeline => Ok(()),
        _ => Err(format!("unexpected refusal: {seen:?}")),
    }
}

#[test]
fn no_response_leaks_a_forbidden_domain() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = tempfile::tempdir().unwrap();
    copy_dir(Path::new(SERVER_CONFIG), config.path());
    let hr = std::fs::read_to_string(config.path().join("pipelines/hr.yaml")).unwrap();
    let all = hr
        .replace("name: hr", "name: all")
        .replace("  filter:\n    domain: [hr]\n", "");
    std::fs::write(config.path().join("pipelines/all.yaml"), all).unwrap();
    let mut access = String::from("roles:\n  admin: { pipelines: [\"*\"], domains: [\"*\"], scopes: [\"*\"] }\n");
    for (role, domains) in ROLES {
        access.push_str(&format!(
            "  {role}: {{ pipelines: [\"*\"], domains: [{}], scopes: [query] }}\n",
            domains.join(", ")
        ));
    }
    std::fs::write(config.path().join("access.yaml"), access).unwrap();
    let dir = config.path().to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    let key = |role: &str| create_key(dir, data.path(), &["--role", role]);
    let admin = key("admin");
    let keys: Vec<String> = ROLES.iter().map(|(role, _)| key(role)).collect();
    let s = Server::start_with(dir, data, &["--ingest"]);

    // Every domain gets documents with its code word, some typed `note` for the filter.
    runtime.block_on(async {
        for d in DOMAINS {
            let word = code_word(d);
            let text = format!(
                "# {d} handbook\n\nThe {d} team keeps {word} in every record. Vacation days, the non-disclosure agreement, \
                 the launch budget and incident escalation are all described for {d} under {word}.\n"
            );
            let form = reqwest::multipart::Form::new()
                .text("domain", d)
                .text("doc_type", "note")
                .part("file", reqwest::multipart::Part::bytes(text.into_bytes()).file_name(format!("{d}.md")));
            let r = client()
                .post(s.url("/v1/pipelines/all/documents"))
                .bearer_auth(&admin)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }
    });

    let checked = AtomicUsize::new(0);
    let answered = AtomicUsize::new(0);
    let with_sources = AtomicUsize::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&case(), |c| {
            let seen = runtime.block_on(async {
                if c.admin_first {
                    let first = ask(&s, &admin, &c).await;
                    prop_assert!(first.status == 200 || first.status == 403, "admin: {first:?}");
                }
                Ok(ask(&s, &keys[c.role], &c).await)
            })?;
            checked.fetch_add(1, Ordering::Relaxed);
            if seen.status == 200 {
                answered.fetch_add(1, Ordering::Relaxed);
            }
            if !seen.domains.is_empty() {
                with_sources.fetch_add(1, Ordering::Relaxed);
            }
            check(&c, &seen).map_err(TestCaseError::fail)
        })
        .unwrap();
    let (checked, answered, with_sources) = (checked.into_inner(), answered.into_inner(), with_sources.into_inner());
    eprintln!("leak test: {checked} responses checked, {answered} answered, {with_sources} with sources, 0 leaks");
    assert!(
        with_sources * 2 >= answered && with_sources >= 30,
        "most answers must have sources to check: {with_sources} of {answered}"
    );
}
