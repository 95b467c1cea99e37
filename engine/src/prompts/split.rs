//! A/B splits: serve several versions of one prompt by weight. A caller with a key
//! (user or session) is hashed onto the same version every time; a request without
//! one draws at random.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Prompt;

/// How the answering prompt version was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// The route names one version.
    Fixed,
    /// An A/B split, by the hash of the request's `user` or `session_id`.
    Sticky,
    /// An A/B split, drawn for this request (it carries no user or session).
    Random,
}

impl Assignment {
    /// `fixed`, `sticky` or `random`, as in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Assignment::Fixed => "fixed",
            Assignment::Sticky => "sticky",
            Assignment::Random => "random",
        }
    }
}

/// One version in a split and its weight.
#[derive(Debug, Clone)]
pub struct Arm {
    pub prompt: Prompt,
    pub weight: u32,
}

/// Weighted versions of one prompt.
#[derive(Debug, Clone)]
pub struct Split {
    arms: Vec<Arm>,
    total: u64,
}

impl Split {
    /// A split over `arms`, or `None` when the weights add up to 0.
    pub fn new(arms: Vec<Arm>) -> Option<Split> {
        let total: u64 = arms.iter().map(|a| u64::from(a.weight)).sum();
        (total > 0).then_some(Split { arms, total })
    }

    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    /// Prompt name the split is over.
    pub fn name(&self) -> &str {
        self.arms.first().map_or("", |a| a.prompt.name())
    }

    /// The version for a caller: by `key` when there is one, else at random.
    pub fn pick(&self, key: Option<&str>) -> (&Prompt, Assignment) {
        let (point, how) = match key {
            Some(k) => (bucket(self.name(), k), Assignment::Sticky),
            None => (rand::random::<u64>(), Assignment::Random),
        };
        (self.arm_at(point % self.total), how)
    }

    /// The arm owning `point` in `0..total`: arms own consecutive ranges in listed order,
    /// so changing weights moves only the callers in the ranges that changed.
    fn arm_at(&self, point: u64) -> &Prompt {
        let mut end = 0;
        for arm in &self.arms {
            end += u64::from(arm.weight);
            if point < end {
                return &arm.prompt;
            }
        }
        // Unreachable for point < total; the last arm is a safe answer.
        &self.arms[self.arms.len() - 1].prompt
    }
}

/// A caller's stable position for prompt `name`: the first 8 bytes of
/// sha256(name, NUL, key). Hashing the name too keeps splits of different prompts independent.
pub fn bucket(name: &str, key: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// What a route's prompt reference serves: one version, or a split.
#[derive(Debug, Clone)]
pub enum PromptChoice {
    Fixed(Prompt),
    Split(std::sync::Arc<Split>),
}

impl PromptChoice {
    /// The version for a caller with `key` (user or session), and how it was chosen.
    pub fn pick(&self, key: Option<&str>) -> (&Prompt, Assignment) {
        match self {
            PromptChoice::Fixed(p) => (p, Assignment::Fixed),
            PromptChoice::Split(s) => s.pick(key),
        }
    }

    /// Every version this choice can serve, with its weight when it is a split.
    pub fn live(&self) -> Vec<(&Prompt, Option<u32>)> {
        match self {
            PromptChoice::Fixed(p) => vec![(p, None)],
            PromptChoice::Split(s) => s
                .arms()
                .iter()
                .filter(|a| a.weight > 0)
                .map(|a| (&a.prompt, Some(a.weight)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn prompt(dir: &std::path::Path, version: &str) -> Prompt {
        let file = dir.join(format!("{version}.md"));
        std::fs::write(&file, format!("{version} {{{{ question }}}}")).unwrap();
        Prompt::load(&file, "hr/answer", Some(version)).unwrap()
    }

    fn split(weights: &[(&str, u32)]) -> (tempfile::TempDir, Split) {
        let dir = tempfile::tempdir().unwrap();
        let arms = weights
            .iter()
            .map(|&(v, weight)| Arm {
                prompt: prompt(dir.path(), v),
                weight,
            })
            .collect();
        (dir, Split::new(arms).unwrap())
    }

    fn version(p: &Prompt) -> String {
        p.id.version.clone().unwrap()
    }

    #[test]
    fn sessions_follow_the_weights_and_stick() {
        let (_dir, s) = split(&[("v2", 80), ("v3", 20)]);
        let n = 10_000;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for i in 0..n {
            let key = format!("session-{i}");
            let (p, how) = s.pick(Some(&key));
            assert_eq!(how, Assignment::Sticky);
            // The same session gets the same version every time.
            for _ in 0..3 {
                assert_eq!(version(s.pick(Some(&key)).0), version(p));
            }
            *counts.entry(version(p)).or_default() += 1;
        }
        // Binomial(10 000, 0.2): sd = 40; allow 4 sd.
        let v3 = f64::from(counts["v3"]);
        assert!((v3 - 2000.0).abs() <= 160.0, "{counts:?}");
        assert_eq!(counts["v2"] + counts["v3"], n);
    }

    #[test]
    fn requests_without_a_key_draw_at_random_by_weight() {
        let (_dir, s) = split(&[("v1", 50), ("v2", 50)]);
        let mut v1 = 0;
        for _ in 0..10_000 {
            let (p, how) = s.pick(None);
            assert_eq!(how, Assignment::Random);
            v1 += u32::from(version(p) == "v1");
        }
        // sd = 50; a 10-sd band makes a spurious failure practically impossible.
        assert!((4500..=5500).contains(&v1), "{v1}");
    }

    #[test]
    fn zero_weight_is_never_served_and_all_zero_is_no_split() {
        let (_dir, s) = split(&[("v1", 0), ("v2", 1)]);
        assert!((0..1000).all(|i| version(s.pick(Some(&i.to_string())).0) == "v2"));
        let choice = PromptChoice::Split(std::sync::Arc::new(s));
        assert_eq!(choice.live().len(), 1);
        assert!(Split::new(Vec::new()).is_none());
    }

    #[test]
    fn shifting_weights_moves_only_the_shifted_share() {
        let (_dir, before) = split(&[("v2", 80), ("v3", 20)]);
        let (_dir2, after) = split(&[("v2", 70), ("v3", 30)]);
        let moved = (0..10_000)
            .filter(|i| {
                let key = format!("user-{i}");
                version(before.pick(Some(&key)).0) != version(after.pick(Some(&key)).0)
            })
            .count();
        // About 10% move (sd 30); every mover goes v2 → v3.
        assert!((850..=1150).contains(&moved), "{moved}");
    }

    #[test]
    fn different_prompts_split_independently() {
        let a = bucket("hr/answer", "s1");
        let b = bucket("legal/answer", "s1");
        assert_ne!(a, b);
        assert_eq!(a, bucket("hr/answer", "s1"));
    }
}
