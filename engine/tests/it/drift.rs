//! Drift detection on the real model: the demo HR pipeline (MiniLM, its documents)
//! answers question sets in-process, its query log fills, and drift is assessed
//! against a baseline snapshot. In each trial the 60 HR questions are split at random
//! into two disjoint halves: one is the baseline, the other the recent window, so
//! nothing drifted and every alarm is false. Legal questions and off-topic ones must
//! cross the thresholds. `DRIFT_TRIALS=200` measures the false-alarm rate more finely
//! (it is printed; the figure in docs/telemetry.md comes from such a run).

use std::path::Path;
use std::sync::Arc;

use ragline::analytics::drift::DriftReport;
use ragline::analytics::service;
use ragline::pipeline::{Engine, Pipeline, Query, Resources};
use ragline::providers::embed::model_files;
use ragline::store::analytics::Limits;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::support::{cli, copy_dir};

const WINDOW: usize = 30;

fn questions(set: &str) -> Vec<String> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift")
        .join(format!("{set}.txt"));
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The demo config with only the HR pipeline, its drift windows sized for the sets.
fn hr_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new("..");
    for sub in ["prompts", "scripts", "data/documents/hr"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    std::fs::copy(root.join("pricing.yaml"), dir.path().join("pricing.yaml")).unwrap();
    std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
    let yaml = std::fs::read_to_string(root.join("pipelines/hr.yaml")).unwrap();
    let yaml = format!("{yaml}\ndrift:\n  window: {WINDOW}\n  min_queries: 20\n");
    std::fs::write(dir.path().join("pipelines/hr.yaml"), yaml).unwrap();
    dir
}

async fn ask(p: &Arc<Pipeline>, questions: &[String]) {
    for q in questions {
        let query = Query {
            text: q.clone(),
            ..Query::default()
        };
        p.query(query).await.unwrap();
    }
}

fn drifted_signals(r: &DriftReport) -> Vec<&'static str> {
    let signals = r.signals.as_ref().unwrap_or_else(|| panic!("no verdict: {r:?}"));
    signals
        .all()
        .into_iter()
        .filter(|(_, t)| t.drifted())
        .map(|(n, _)| n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_from_the_baseline_set_stay_quiet_and_other_sets_drift() {
    let config = hr_config();
    let data = tempfile::tempdir().unwrap();
    let (code, out) = cli(config.path().to_str().unwrap(), data.path(), &["ingest", "hr"]);
    assert_eq!(code, 0, "{out}");
    let resources = Resources::new(data.path().to_owned(), model_files::default_cache_dir().unwrap());
    // Every query keeps its embedding, however fast the trials ask (DRIFT_TRIALS=200).
    resources.configure_query_log(Some(Limits {
        vectors_per_minute: 60_000_000,
        ..Limits::default()
    }));
    let engine = Engine::load(config.path().to_owned(), resources).unwrap();
    let hr = engine.snapshot().pipelines["hr"].clone();

    let (pool, legal, offtopic) = (questions("hr"), questions("legal"), questions("offtopic"));
    assert_eq!(pool.len(), 2 * WINDOW);
    let mut rng = StdRng::seed_from_u64(2026);
    // A baseline of half the HR questions, at random; returns the other half.
    let baseline = async |rng: &mut StdRng| -> Vec<String> {
        let mut v = pool.clone();
        v.shuffle(rng);
        let rest = v.split_off(WINDOW);
        ask(&hr, &v).await;
        assert_eq!(service::take_baseline(&hr).unwrap(), WINDOW);
        rest
    };

    // The other half of the same set: false alarms only.
    let trials: usize = std::env::var("DRIFT_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(10);
    let mut alarms = Vec::new();
    for _ in 0..trials {
        let rest = baseline(&mut rng).await;
        ask(&hr, &rest).await;
        let r = service::drift(&hr).unwrap();
        assert_eq!((r.recent, r.baseline), (WINDOW, WINDOW), "{r:?}");
        let signals = drifted_signals(&r);
        if !signals.is_empty() {
            alarms.push(signals);
        }
    }
    eprintln!(
        "drift false alarms: {} of {trials} windows disjoint from the baseline, same question set ({:.1}%): {alarms:?}",
        alarms.len(),
        100.0 * alarms.len() as f64 / trials as f64
    );
    // Four tests at alpha 0.01 each: a few percent expected.
    assert!(alarms.len() * 5 <= trials, "{alarms:?}");

    // Legal questions asked of the HR pipeline: another domain, mostly out of coverage.
    baseline(&mut rng).await;
    ask(&hr, &legal[..WINDOW]).await;
    let r = service::drift(&hr).unwrap();
    let signals = drifted_signals(&r);
    eprintln!("legal window: {:?}", r.signals);
    assert!(signals.contains(&"embedding_mmd"), "{r:?}");
    assert!(signals.contains(&"embedding_centroid"), "{r:?}");

    // Off-topic questions: far from everything the corpus covers.
    baseline(&mut rng).await;
    ask(&hr, &offtopic[..WINDOW]).await;
    let r = service::drift(&hr).unwrap();
    let signals = drifted_signals(&r);
    eprintln!("off-topic window: {:?}", r.signals);
    assert!(signals.contains(&"embedding_mmd"), "{r:?}");
    assert!(signals.contains(&"out_of_coverage"), "{r:?}");
}
