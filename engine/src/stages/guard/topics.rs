//! Topic boundaries: named topics the pipeline does not discuss, each recognised by
//! its keywords (whole words or phrases, any case). A query or answer on a denied
//! topic is refused with the pipeline's refusal message.

use super::phrases::Phrase;
use super::report::{GuardAction, GuardReason, GuardSide};
use super::{LocalGuard, Sides, Verdict};

/// One denied topic.
#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub keywords: Vec<Phrase>,
    pub sides: Sides,
}

/// Every denied topic of a pipeline.
#[derive(Debug, Clone)]
pub struct DeniedTopics {
    topics: Vec<Topic>,
}

impl DeniedTopics {
    pub fn new(topics: Vec<Topic>) -> Self {
        Self { topics }
    }
}

impl LocalGuard for DeniedTopics {
    fn name(&self) -> &'static str {
        "denied_topic"
    }

    fn applies_to(&self, side: GuardSide) -> bool {
        self.topics.iter().any(|t| t.sides.covers(side))
    }

    fn check(&self, text: &str, side: GuardSide) -> Verdict {
        let reasons: Vec<GuardReason> = self
            .topics
            .iter()
            .filter(|t| t.sides.covers(side))
            .filter_map(|t| {
                let n: usize = t.keywords.iter().map(|k| k.count(text)).sum();
                (n > 0).then(|| {
                    GuardReason::new(
                        self.name(),
                        side,
                        GuardAction::Blocked,
                        t.name.clone(),
                        u32::try_from(n).unwrap_or(u32::MAX),
                    )
                })
            })
            .collect();
        if reasons.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Blocked { reasons }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> DeniedTopics {
        let kw = |ws: &[&str]| ws.iter().map(|w| Phrase::term(w).unwrap()).collect();
        DeniedTopics::new(vec![
            Topic {
                name: "investment advice".to_owned(),
                keywords: kw(&["stock tips", "crypto", "which stocks"]),
                sides: Sides::default(),
            },
            Topic {
                name: "medical".to_owned(),
                keywords: kw(&["diagnosis"]),
                sides: Sides {
                    query: true,
                    answer: false,
                },
            },
        ])
    }

    #[test]
    fn refuses_queries_on_a_denied_topic() {
        let Verdict::Blocked { reasons } = topics().check("Which STOCKS should I buy, or crypto?", GuardSide::Query)
        else {
            panic!("not blocked");
        };
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].what, "investment advice");
        assert_eq!(reasons[0].count, 2);
        assert_eq!(reasons[0].action, GuardAction::Blocked);
    }

    #[test]
    fn passes_other_topics_and_partial_words() {
        let t = topics();
        for text in [
            "How many vacation days do I get?",
            "cryptography policy",
            "stock room hours",
        ] {
            assert_eq!(t.check(text, GuardSide::Query), Verdict::Pass, "{text}");
        }
    }

    #[test]
    fn topics_check_only_their_sides() {
        let t = topics();
        assert!(matches!(
            t.check("a diagnosis", GuardSide::Query),
            Verdict::Blocked { .. }
        ));
        assert_eq!(t.check("a diagnosis", GuardSide::Answer), Verdict::Pass);
        assert!(t.applies_to(GuardSide::Answer));
    }
}
