//! The scope partition as a property: over random scopes and epochs sharing one store,
//! one question and one vector, a lookup only ever finds the entry of its own scope.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::entry::{self, Cached, Scope};
use super::verify::Checks;
use super::{CacheStage, Lookup, Status};
use crate::prompts::PromptVersion;
use crate::stages::Run;
use crate::store::{Index, IndexOptions};
use crate::vocab::Filter;

/// Everything a slot is made of, in a canonical form (filter values sorted, deduplicated).
#[derive(Debug, Clone)]
struct Drawn {
    pipeline: &'static str,
    filter: BTreeMap<String, Vec<String>>,
    role: &'static str,
    top_k: usize,
    model: &'static str,
    prompt: (&'static str, Option<&'static str>, &'static str),
    embedder: &'static str,
    generation: u64,
}

impl Drawn {
    fn canonical(&self) -> String {
        let filter: BTreeMap<&String, Vec<&String>> = self
            .filter
            .iter()
            .map(|(k, v)| {
                let mut v: Vec<&String> = v.iter().collect();
                v.sort();
                v.dedup();
                (k, v)
            })
            .collect();
        format!(
            "{}|{filter:?}|{}|{}|{}|{:?}|{}|{}",
            self.pipeline, self.role, self.top_k, self.model, self.prompt, self.embedder, self.generation
        )
    }

    fn slot(&self) -> crate::store::Slot {
        let filter = Filter {
            fields: self.filter.clone(),
        };
        let prompt = PromptVersion {
            name: self.prompt.0.into(),
            version: self.prompt.1.map(Into::into),
            hash: self.prompt.2.into(),
        };
        Scope {
            pipeline: self.pipeline,
            filter: &filter,
            role: self.role,
            top_k: self.top_k,
            model: self.model,
            prompt: &prompt,
            embedder: self.embedder,
        }
        .slot(&entry::epoch(&[9; 32], self.generation))
    }
}

fn drawn() -> impl Strategy<Value = Drawn> {
    let values = prop::collection::vec(prop::sample::select(vec!["hr", "legal", "it"]), 0..3)
        .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
    let filter = prop::collection::btree_map(prop::sample::select(vec!["domain", "team"]), values, 0..3)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    (
        prop::sample::select(vec!["hr", "legal"]),
        filter,
        prop::sample::select(vec!["", "manager", "admin"]),
        1usize..4,
        prop::sample::select(vec!["lite", "pro"]),
        (
            prop::sample::select(vec!["hr/answer", "legal/answer"]),
            prop::sample::select(vec![None, Some("v1"), Some("v2")]),
            prop::sample::select(vec!["aaaa", "bbbb"]),
        ),
        prop::sample::select(vec!["minilm", "hash-64"]),
        0u64..2,
    )
        .prop_map(
            |(pipeline, filter, role, top_k, model, prompt, embedder, generation)| Drawn {
                pipeline,
                filter,
                role,
                top_k,
                model,
                prompt,
                embedder,
                generation,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_lookup_finds_another_scopes_entry(
        stored in prop::collection::vec(drawn(), 1..12),
        asked in prop::collection::vec(drawn(), 1..12),
        reworded in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path(), &IndexOptions::default()).unwrap();
        let question = "How many vacation days do employees get?";
        let vector = entry::unit(&[1.0, 2.0, 3.0]);
        for d in &stored {
            let cached = Cached {
                question: question.into(),
                text: d.canonical(),
                sources: Vec::new(),
                saved_usd: 0.0,
            };
            let value = entry::encode(1_000, &vector, &cached).unwrap();
            index.answers().put(&d.slot(), &entry::question_key(question), &value).unwrap();
        }
        // No check but the scope: the retrieval check off, the lexical ones off.
        let stage = CacheStage {
            checks: Checks { polarity: false, numbers: false, entities: false },
            sources: 0,
            similarity: 0.5,
            ..CacheStage::default()
        };
        // The exact level, or (reworded) the semantic level's scan.
        let text = if reworded { "Vacation days: how many do employees get?" } else { question };
        // Every other stored scope is asked again, so a scope's own entry is looked for
        // as often as another's.
        for d in asked.iter().chain(stored.iter().step_by(2)) {
            let found = stage
                .run(Lookup {
                    backend: &index,
                    slot: d.slot(),
                    question: text,
                    vector: Some(&vector),
                    fresh: &[],
                    now_ms: 2_000,
                })
                .unwrap();
            let same = stored.iter().any(|s| s.canonical() == d.canonical());
            match found.hit {
                Some((cached, _)) => {
                    prop_assert_eq!(&cached.text, &d.canonical(), "served across scopes");
                    let level = if reworded { Status::Semantic } else { Status::Exact };
                    prop_assert_eq!(found.status, level);
                }
                None => prop_assert!(!same, "missed its own scope: {}", d.canonical()),
            }
        }
    }
}
