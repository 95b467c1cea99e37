//! Requests during reloads: clients query without pause while good and broken edits
//! are saved; every failed request and every answer from a text that never compiled counts.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{BenchError, BenchOptions, Cx, UnderLoad, count, field, fixture, hash_of, percentile, round, sorted};

/// What the load clients saw.
#[derive(Default)]
struct Seen {
    requests: u64,
    ok: u64,
    non_200: u64,
    status_5xx: u64,
    transport: u64,
    unknown_versions: u64,
    latencies_ms: Vec<f64>,
}

async fn client_loop(
    cx: Arc<Cx>,
    id: usize,
    good: Arc<std::sync::Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let question = fixture::QUESTIONS[(id + n) % fixture::QUESTIONS.len()];
        let started = Instant::now();
        let result = cx.query(&format!("client-{id}-{}", n % 100), question).await;
        seen.latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        seen.requests += 1;
        match result {
            Ok((200, body)) => {
                seen.ok += 1;
                let known = hash_of(&body).is_some_and(|h| good.lock().is_ok_and(|g| g.contains(h)));
                seen.unknown_versions += u64::from(!known);
            }
            Ok((status, _)) => {
                seen.non_200 += 1;
                seen.status_5xx += u64::from(status >= 500);
            }
            Err(_) => seen.transport += 1,
        }
    }
    seen
}

pub(super) async fn under_load(cx: &Cx, opts: &BenchOptions) -> Result<UnderLoad, BenchError> {
    let cx = Arc::new(cx.clone());
    // Every prompt text that compiles; the one served now is the last timed edit's.
    let good: Arc<std::sync::Mutex<HashSet<String>>> = Arc::new(std::sync::Mutex::new(
        (0..=opts.edits).map(|i| fixture::hash(&fixture::prompt(i))).collect(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..opts.clients.max(1))
        .map(|id| tokio::spawn(client_loop(cx.clone(), id, good.clone(), stop.clone())))
        .collect();

    let before = cx.reload_status().await?;
    let mut broken = 0;
    let mut edit = opts.edits;
    let mut failure: Option<BenchError> = None;
    for i in 0..opts.reloads {
        edit += 1;
        let (rel, text, is_broken) = match i % 10 {
            1 => (fixture::PROMPT_FILE, fixture::broken_prompt(edit), true),
            4 => (fixture::PIPELINE_FILE, fixture::broken_pipeline(), true),
            7 => (fixture::SCRIPT_FILE, fixture::broken_script(), true),
            5 | 9 => (
                fixture::PIPELINE_FILE,
                fixture::pipeline(3 + (i % 2) as u32, &format!("reload benchmark, edit {edit}")),
                false,
            ),
            8 => (fixture::SCRIPT_FILE, fixture::script(&format!("edit {edit}")), false),
            _ => (fixture::PROMPT_FILE, fixture::prompt(edit), false),
        };
        if is_broken {
            broken += 1;
        } else if rel == fixture::PROMPT_FILE
            && let Ok(mut g) = good.lock()
        {
            g.insert(fixture::hash(&text));
        }
        let tried = count(&cx.reload_status().await?);
        cx.save(rel, &text, i % 2 == 1)?;
        // Wait for the server to have tried a reload since the save.
        let waited = Instant::now();
        loop {
            if let Ok(status) = cx.reload_status().await
                && count(&status) > tried
            {
                break;
            }
            if waited.elapsed() > cx.deadline {
                failure = Some(cx.timeout(format!("reload {} ({rel})", i + 1)));
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if failure.is_some() {
            break;
        }
        // Keep the old text serving for a moment under load.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = Seen::default();
    for c in clients {
        if let Ok(s) = c.await {
            all.requests += s.requests;
            all.ok += s.ok;
            all.non_200 += s.non_200;
            all.status_5xx += s.status_5xx;
            all.transport += s.transport;
            all.unknown_versions += s.unknown_versions;
            all.latencies_ms.extend(s.latencies_ms);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = cx.reload_status().await?;
    let lat = sorted(&all.latencies_ms);
    let failed = all.non_200 + all.transport;
    Ok(UnderLoad {
        reloads: opts.reloads,
        broken_edits: broken,
        server_succeeded: field(&after, "succeeded").saturating_sub(field(&before, "succeeded")),
        server_failed: field(&after, "failed").saturating_sub(field(&before, "failed")),
        clients: opts.clients.max(1),
        seconds: round(seconds),
        requests: all.requests,
        ok: all.ok,
        non_200: all.non_200,
        status_5xx: all.status_5xx,
        transport_errors: all.transport,
        unknown_prompt_versions: all.unknown_versions,
        queries_per_s: round(all.requests as f64 / seconds.max(1e-9)),
        query_p50_ms: round(percentile(&lat, 50.0)),
        query_p95_ms: round(percentile(&lat, 95.0)),
        query_max_ms: round(lat.last().copied().unwrap_or(0.0)),
        meets_target: failed == 0 && all.unknown_versions == 0,
    })
}
