//! Save → served: how long after a prompt file is written the first answer names its new text.

use std::time::{Duration, Instant};

use super::{BenchError, Cx, SaveToServed, TARGET_P95_MS, fixture, hash_of, percentile, round, sorted};

pub(super) async fn save_to_served(cx: &Cx, edits: usize) -> Result<SaveToServed, BenchError> {
    // Wait until the server answers with the initial prompt.
    let first = fixture::hash(&fixture::prompt(0));
    let started = Instant::now();
    loop {
        if let Ok((200, body)) = cx.query("warm-up", fixture::QUESTIONS[0]).await
            && hash_of(&body) == Some(first.as_str())
        {
            break;
        }
        if started.elapsed() > cx.deadline {
            return Err(cx.timeout("the first answer".to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Vec::with_capacity(edits);
    let mut timed_out = 0;
    for i in 1..=edits {
        let text = fixture::prompt(i);
        let want = fixture::hash(&text);
        let saved = Instant::now();
        cx.save(fixture::PROMPT_FILE, &text, i % 2 == 0)?;
        loop {
            if let Ok((200, body)) = cx.query("edit", fixture::QUESTIONS[i % fixture::QUESTIONS.len()]).await
                && hash_of(&body) == Some(want.as_str())
            {
                samples.push(saved.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if saved.elapsed() > cx.deadline {
                timed_out += 1;
                break;
            }
        }
        // Let the watcher go quiet, so the next edit is timed on its own.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let sorted = sorted(&samples);
    let p95 = percentile(&sorted, 95.0);
    Ok(SaveToServed {
        edits,
        served: samples.len(),
        timed_out,
        p50_ms: round(percentile(&sorted, 50.0)),
        p95_ms: round(p95),
        max_ms: round(sorted.last().copied().unwrap_or(0.0)),
        mean_ms: round(samples.iter().sum::<f64>() / samples.len().max(1) as f64),
        target_p95_ms: TARGET_P95_MS,
        meets_target: timed_out == 0 && p95 <= TARGET_P95_MS,
        samples_ms: samples.into_iter().map(round).collect(),
    })
}
