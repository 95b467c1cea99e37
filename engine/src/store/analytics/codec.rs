//! How the query log lays out its keys and values in LMDB.
//!
//! - Query keys are `at_ms` (big-endian) then the answer id, so the whole log is in time
//!   order: a time range is one key range, and the oldest queries are the first keys.
//! - A vector value is the pipeline and embedder ids (each a length byte and UTF-8) and
//!   the `f32`s, little-endian, so a drift window reads the vectors alone.
//! - A usage key is the UTC day (days since the epoch, big-endian), the key id, a zero
//!   byte and the role; its value is the cost in USD (`f64`) and the tokens (`u64`).

/// The key of the query answered at `at_ms` with answer id `id`.
pub(super) fn query_key(at_ms: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + id.len());
    k.extend_from_slice(&at_ms.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// At most 255 bytes of `s`, cut at a character boundary.
fn short(s: &str) -> &str {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(super) fn encode_vector(pipeline: &str, embedder: &str, v: &[f32]) -> Vec<u8> {
    let (pipeline, embedder) = (short(pipeline), short(embedder));
    let mut out = Vec::with_capacity(2 + pipeline.len() + embedder.len() + v.len() * 4);
    for id in [pipeline, embedder] {
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
    }
    out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    out
}

/// A stored vector: its pipeline, its embedder and the floats.
pub(super) struct StoredVector<'a> {
    pub pipeline: &'a str,
    pub embedder: &'a str,
    floats: &'a [u8],
}

impl StoredVector<'_> {
    pub fn floats(&self) -> Vec<f32> {
        floats(self.floats)
    }
}

/// Little-endian `f32`s; `bytes` is a whole number of them.
pub(super) fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub(super) fn decode_vector(bytes: &[u8]) -> Option<StoredVector<'_>> {
    let (pipeline, rest) = take_id(bytes)?;
    let (embedder, floats) = take_id(rest)?;
    (floats.len() % 4 == 0).then_some(StoredVector {
        pipeline,
        embedder,
        floats,
    })
}

/// A length byte and that many bytes of UTF-8, and what follows.
pub(super) fn take_id(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    let (id, rest) = rest.split_at_checked(usize::from(len))?;
    Some((std::str::from_utf8(id).ok()?, rest))
}

pub(super) fn usage_key(day: u32, key_id: &str, role: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + key_id.len() + role.len());
    k.extend_from_slice(&day.to_be_bytes());
    k.extend_from_slice(key_id.as_bytes());
    k.push(0);
    k.extend_from_slice(role.as_bytes());
    k
}

/// The day, key id and role of a usage key.
pub(super) fn decode_usage_key(key: &[u8]) -> Option<(u32, &str, &str)> {
    let (day, rest) = key.split_first_chunk::<4>()?;
    let zero = rest.iter().position(|&b| b == 0)?;
    let key_id = std::str::from_utf8(&rest[..zero]).ok()?;
    let role = std::str::from_utf8(&rest[zero + 1..]).ok()?;
    Some((u32::from_be_bytes(*day), key_id, role))
}

pub(super) fn encode_usage(usd: f64, tokens: u64) -> [u8; 16] {
    let mut out = [0; 16];
    out[..8].copy_from_slice(&usd.to_le_bytes());
    out[8..].copy_from_slice(&tokens.to_le_bytes());
    out
}

pub(super) fn decode_usage(bytes: &[u8]) -> Option<(f64, u64)> {
    let (usd, tokens) = bytes.split_first_chunk::<8>()?;
    Some((
        f64::from_le_bytes(*usd),
        u64::from_le_bytes(*tokens.first_chunk::<8>()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keys_sort_by_time_and_values_round_trip() {
        assert!(query_key(999, "zz") < query_key(1_000, "aa"));
        assert_eq!(query_key(1_234, "x")[..8], 1_234u64.to_be_bytes());

        let bytes = encode_vector("hr", "local/minilm", &[1.5, -2.0]);
        let v = decode_vector(&bytes).unwrap();
        assert_eq!(
            (v.pipeline, v.embedder, v.floats()),
            ("hr", "local/minilm", vec![1.5, -2.0])
        );
        assert!(decode_vector(&bytes[..bytes.len() - 1]).is_none(), "a torn float");
        assert!(decode_vector(&[9, b'a']).is_none());

        let long = "é".repeat(200);
        let bytes = encode_vector(&long, "e", &[]);
        assert_eq!(decode_vector(&bytes).unwrap().pipeline.len(), 254, "cut at a character");

        let key = usage_key(20_000, "k1", "hr-reader");
        assert_eq!(decode_usage_key(&key), Some((20_000, "k1", "hr-reader")));
        assert_eq!(decode_usage(&encode_usage(0.25, 42)), Some((0.25, 42)));
    }
}
