//! all-MiniLM-L6-v2 run in-process on candle (CPU, f32).
//!
//! Texts are tokenized without padding, sorted by length and cut into batches of
//! similar length, so little compute goes to padding. Each batch is padded here,
//! run through BERT with an attention mask, mean-pooled over real tokens and
//! L2-normalised, then the vectors are put back in input order.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use super::model_files::ModelFiles;
use super::{Embedder, Embeddings};
use crate::providers::ProviderError;

pub const ID: &str = "local/all-MiniLM-L6-v2";
const DIMS: usize = 384;
/// Longer inputs are truncated to this many tokens (special tokens included).
const MAX_TOKENS: usize = 256;
/// Batch caps: texts per batch and padded tokens (texts × longest) per batch.
const MAX_BATCH_TEXTS: usize = 32;
const MAX_BATCH_TOKENS: usize = 8192;

/// The all-MiniLM-L6-v2 sentence embedder, loaded once and shared across threads.
pub struct LocalBert {
    model: BertModel,
    tokenizer: Tokenizer,
    pad_id: u32,
    device: Device,
}

impl std::fmt::Debug for LocalBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBert").field("id", &ID).finish_non_exhaustive()
    }
}

impl LocalBert {
    /// Load the model from verified files (see [`super::model_files::ensure_minilm`]).
    ///
    /// # Errors
    /// [`ProviderError::ModelUnavailable`] when a file cannot be read or parsed, or
    /// the model is not a 384-wide BERT.
    pub fn load(files: &ModelFiles) -> Result<Self, ProviderError> {
        let unusable = |what: &std::path::Path, e: &dyn std::fmt::Display| {
            ProviderError::ModelUnavailable(format!(
                "cannot load {}: {e}; delete {} to fetch a fresh copy",
                what.display(),
                files.dir.display()
            ))
        };

        let config_text = std::fs::read_to_string(&files.config).map_err(|e| unusable(&files.config, &e))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| unusable(&files.config, &e))?;
        if config.hidden_size != DIMS {
            let e = format!("hidden_size is {}, expected {DIMS}", config.hidden_size);
            return Err(unusable(&files.config, &e));
        }

        let mut tokenizer = Tokenizer::from_file(&files.tokenizer).map_err(|e| unusable(&files.tokenizer, &e))?;
        // tokenizer.json ships fixed padding to 128 and truncation at 128; we pad
        // per batch ourselves and allow longer inputs.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| unusable(&files.tokenizer, &e))?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);

        let device = Device::Cpu;
        // SAFETY: the weights file is mmapped read-only. It lives in a cache
        // directory that is only ever created whole by an atomic rename and never
        // rewritten in place, so it does not change under the mapping.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, &device) }
            .map_err(|e| unusable(&files.weights, &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| unusable(&files.weights, &e))?;

        tracing::info!(id = ID, dir = %files.dir.display(), "embedding model loaded");
        Ok(Self {
            model,
            tokenizer,
            pad_id,
            device,
        })
    }

    /// Embed one batch of token id sequences; returns one unit vector per sequence.
    fn embed_batch(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for seq in batch {
            ids.extend_from_slice(seq);
            ids.resize(ids.len() + width - seq.len(), self.pad_id);
            mask.extend(std::iter::repeat_n(1_u32, seq.len()));
            mask.resize(mask.len() + width - seq.len(), 0);
        }
        let shape = (batch.len(), width);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let type_ids = ids.zeros_like()?;

        // (batch, width, DIMS)
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12_f32, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

/// Split indices (already sorted by length, shortest first) into batches that
/// respect both caps. A single text always fits.
fn plan_batches(sorted: &[usize], lens: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for &i in sorted {
        let len = lens.get(i).copied().unwrap_or(0);
        // Sorted ascending, so `len` is the width the batch would pad to.
        let padded = (current.len() + 1) * len;
        if !current.is_empty() && (current.len() == MAX_BATCH_TEXTS || padded > MAX_BATCH_TOKENS) {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl Embedder for LocalBert {
    fn id(&self) -> &str {
        ID
    }

    fn dims(&self) -> usize {
        DIMS
    }

    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        if texts.is_empty() {
            return Ok(Embeddings {
                vectors: Vec::new(),
                tokens: 0,
            });
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ProviderError::InvalidInput(format!("tokenization failed: {e}")))?;
        let lens: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let tokens = lens.iter().sum();

        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| lens.get(i).copied().unwrap_or(0));

        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in plan_batches(&order, &lens) {
            let ids: Vec<&[u32]> = batch
                .iter()
                .filter_map(|&i| encodings.get(i).map(|e| e.get_ids()))
                .collect();
            let out = self
                .embed_batch(&ids)
                .map_err(|e| ProviderError::Inference(e.to_string()))?;
            for (&i, vector) in batch.iter().zip(out) {
                if let Some(slot) = vectors.get_mut(i) {
                    *slot = vector;
                }
            }
        }
        tracing::debug!(texts = texts.len(), tokens, "embedded batch");
        Ok(Embeddings { vectors, tokens })
    }

    fn tokenizer(&self) -> Option<&Tokenizer> {
        Some(&self.tokenizer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::providers::embed::model_files::{default_cache_dir, ensure_minilm};

    /// Loaded once for all tests; fetches the model on first use.
    fn model() -> &'static LocalBert {
        static MODEL: OnceLock<LocalBert> = OnceLock::new();
        MODEL.get_or_init(|| {
            let files = ensure_minilm(&default_cache_dir().unwrap()).unwrap();
            LocalBert::load(&files).unwrap()
        })
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<LocalBert>();
    }

    #[test]
    fn batches_respect_both_caps() {
        let lens: Vec<usize> = (0..100).map(|i| if i < 70 { 10 } else { 300 }).collect();
        let order: Vec<usize> = (0..100).collect();
        let batches = plan_batches(&order, &lens);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 100);
        for batch in &batches {
            let width = batch.iter().map(|&i| lens[i]).max().unwrap();
            assert!(batch.len() <= MAX_BATCH_TEXTS);
            assert!(batch.len() == 1 || batch.len() * width <= MAX_BATCH_TOKENS);
        }
        // A text longer than the token cap still gets its own batch.
        assert_eq!(plan_batches(&[0], &[MAX_BATCH_TOKENS + 1]), vec![vec![0]]);
        assert!(plan_batches(&[], &[]).is_empty());
    }

    #[test]
    fn vectors_are_384_dimensional_unit_vectors() {
        let m = model();
        assert_eq!(m.id(), "local/all-MiniLM-L6-v2");
        assert_eq!(m.dims(), 384);
        let out = m.embed(&["hello world", ""]).unwrap();
        assert_eq!(out.vectors.len(), 2);
        // [CLS] hello world [SEP] + [CLS] [SEP]
        assert_eq!(out.tokens, 6);
        for v in &out.vectors {
            assert_eq!(v.len(), 384);
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        }
        assert!(m.tokenizer().is_some());
    }

    #[test]
    fn empty_input_gives_no_vectors() {
        let out = model().embed(&[]).unwrap();
        assert!(out.vectors.is_empty());
        assert_eq!(out.tokens, 0);
    }

    #[test]
    fn batch_keeps_input_order_and_matches_single_embeddings() {
        let m = model();
        let long = "The committee reviewed every clause of the contract, ".repeat(6);
        let texts = [
            long.as_str(),
            "short",
            "A medium length sentence about the weather in spring.",
            "ok",
            "Employees receive 25 days of paid annual leave.",
        ];
        let batched = m.embed(&texts).unwrap();
        for (text, vector) in texts.iter().zip(&batched.vectors) {
            let alone = m.embed(&[text]).unwrap();
            let diff = max_abs_diff(&alone.vectors[0], vector);
            assert!(diff < 1e-4, "{text:?} differs by {diff}");
        }
    }

    #[test]
    fn similar_meaning_scores_higher() {
        let out = model()
            .embed(&[
                "How many vacation days do employees get?",
                "Employees receive 25 days of paid annual leave.",
                "The quarterly marketing budget is 40,000 dollars.",
            ])
            .unwrap();
        let [q, leave, budget] = out.vectors.as_slice() else {
            panic!("three vectors expected");
        };
        let (near, far) = (cosine(q, leave), cosine(q, budget));
        assert!(near > far + 0.1, "leave {near} vs budget {far}");
    }

    #[test]
    fn long_text_is_truncated_not_rejected() {
        let m = model();
        let long = "word ".repeat(1000);
        let out = m.embed(&[long.as_str()]).unwrap();
        assert_eq!(out.tokens, MAX_TOKENS);
        assert_eq!(out.vectors[0].len(), 384);
    }

    /// Values from an independent float64 numpy forward pass of the same weights
    /// (no padding, mean pooling, L2 norm), at dimensions 0, 1, 7, 100 and 383.
    #[test]
    fn matches_a_numpy_reference() {
        let cases: [(&str, usize, [f32; 5]); 2] = [
            (
                "How many vacation days do employees get?",
                10,
                [0.030404, 0.022176, -0.107395, 0.051767, -0.005163],
            ),
            (
                "Employees receive 25 days of paid annual leave.",
                11,
                [0.042959, 0.04895, -0.077998, 0.061218, 0.009284],
            ),
        ];
        let texts: Vec<&str> = cases.iter().map(|c| c.0).collect();
        let out = model().embed(&texts).unwrap();
        assert_eq!(out.tokens, cases.iter().map(|c| c.1).sum::<usize>());
        for ((text, _, expected), vector) in cases.iter().zip(&out.vectors) {
            let got = [0, 1, 7, 100, 383].map(|d| vector[d]);
            let diff = max_abs_diff(&got, expected);
            assert!(diff < 1e-3, "{text:?}: got {got:?}, expected {expected:?}");
        }
    }

    /// Prints throughput; asserts nothing about speed.
    #[test]
    fn throughput_report() {
        let m = model();
        let subjects = ["The engineer", "Our support team", "A new employee", "The auditor"];
        let verbs = ["reviewed", "updated", "rejected", "summarised", "archived"];
        let objects = [
            "the travel expense policy before the deadline",
            "a long report on regional sales figures for the third quarter of the year",
            "the ticket",
            "every onboarding document in the shared drive, including the security checklist",
            "the invoice",
        ];
        let sentences: Vec<String> = (0..200)
            .map(|i| {
                let s = subjects[i % subjects.len()];
                let v = verbs[(i / 4) % verbs.len()];
                let o = objects[(i / 3) % objects.len()];
                format!("{s} {v} {o} (case {i}).")
            })
            .collect();
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let cpu_before = process_cpu_secs();
        let start = Instant::now();
        let out = m.embed(&refs).unwrap();
        let wall = start.elapsed().as_secs_f64();
        let cpu = process_cpu_secs().zip(cpu_before).map(|(a, b)| a - b);
        println!(
            "local_bert: {} texts, {} tokens in {wall:.2}s = {:.0} tokens/s, {:.1} texts/s; \
             cpu/wall {}",
            refs.len(),
            out.tokens,
            out.tokens as f64 / wall,
            refs.len() as f64 / wall,
            cpu.map_or("n/a".to_owned(), |c| format!("{:.2}", c / wall)),
        );
    }

    /// User + system CPU seconds of this process, from /proc (Linux only).
    fn process_cpu_secs() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after_comm = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line, 11 and 12 after `comm`.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / 100.0)
    }
}
