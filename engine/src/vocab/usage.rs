//! What a query consumed and cost, in total and per stage.

/// What one stage consumed and cost. Token counts are the providers' own (the
/// extractive generator counts words); costs come from the price table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageUsage {
    /// `retrieve` (the query embedding), `generate`, `guardrail_input`, `guardrail_output`.
    pub stage: String,
    /// The model behind the stage, e.g. `local/all-MiniLM-L6-v2` or
    /// `bedrock/amazon.nova-2-lite-v1:0`.
    pub model: String,
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Guardrail text units (Bedrock Guardrails bills per 1,000 characters).
    pub guardrail_units: u64,
    pub cost_usd: f64,
}

/// The totals of a query, and each stage's part in the order the stages ran.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub embedding_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub guardrail_units: u64,
    pub cost_usd: f64,
    /// The `version` of the price table the costs were computed with.
    pub pricing_version: String,
    pub stages: Vec<StageUsage>,
}

impl Usage {
    /// Nothing yet, priced with the table `pricing_version`.
    pub fn new(pricing_version: &str) -> Self {
        Self {
            pricing_version: pricing_version.to_owned(),
            ..Self::default()
        }
    }

    /// Add a stage's usage to the totals and the breakdown.
    pub fn add(&mut self, stage: StageUsage) {
        self.embedding_tokens += stage.embedding_tokens;
        self.input_tokens += stage.input_tokens;
        self.output_tokens += stage.output_tokens;
        self.guardrail_units += stage.guardrail_units;
        self.cost_usd += stage.cost_usd;
        self.stages.push(stage);
    }
}

impl Extend<StageUsage> for Usage {
    fn extend<I: IntoIterator<Item = StageUsage>>(&mut self, stages: I) {
        for stage in stages {
            self.add(stage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_add_up() {
        let mut u = Usage::new("v1");
        u.add(StageUsage {
            stage: "retrieve".into(),
            embedding_tokens: 7,
            cost_usd: 0.5,
            ..StageUsage::default()
        });
        u.add(StageUsage {
            stage: "generate".into(),
            input_tokens: 3,
            output_tokens: 2,
            cost_usd: 0.25,
            ..StageUsage::default()
        });
        assert_eq!((u.embedding_tokens, u.input_tokens, u.output_tokens), (7, 3, 2));
        assert!((u.cost_usd - 0.75).abs() < 1e-12);
        assert_eq!(u.stages.len(), 2);
        assert_eq!(u.pricing_version, "v1");
    }
}
