//! The first layout of the query log (keys `pipeline \0 at_ms id`, vectors without
//! their pipeline, no usage), converted in the transaction that opens the log.

use heed::types::{Bytes, SerdeJson, Str};
use heed::{Database, DatabaseOpener, RwTxn, WithoutTls};

use super::codec::{encode_vector, floats, query_key, take_id, usage_key};
use super::{DAY_MS, Dbs, QueryRecord};

/// The databases of the first layout: `records`, `ids` and `vectors`.
pub(super) const OLD_DATABASES: u32 = 3;

/// Move the queries of the first layout, if any, into `dbs`, and empty the old ones.
pub(super) fn convert<'e>(
    opener: &DatabaseOpener<'e, WithoutTls>,
    wtxn: &mut RwTxn<'e>,
    dbs: &Dbs<'e>,
) -> heed::Result<()> {
    let old: Option<Database<Bytes, SerdeJson<QueryRecord>>> = opener.open_database(wtxn, Some("records"))?;
    let Some(records) = old.filter(|db| db.len(wtxn).is_ok_and(|n| n > 0)) else {
        return Ok(());
    };
    let ids: Option<Database<Str, Bytes>> = opener.open_database(wtxn, Some("ids"))?;
    let vectors: Option<Database<Bytes, Bytes>> = opener.open_database(wtxn, Some("vectors"))?;
    let all: Vec<(Vec<u8>, QueryRecord)> = records
        .iter(wtxn)?
        .map(|item| item.map(|(k, r)| (k.to_vec(), r)))
        .collect::<heed::Result<_>>()?;
    tracing::info!(
        queries = all.len(),
        "converting the query log to its time-ordered layout"
    );
    for (old_key, record) in &all {
        let key = query_key(record.at_ms, &record.id);
        dbs.queries.put(wtxn, &key, record)?;
        dbs.ids.put(wtxn, &record.id, &key)?;
        let old_vector = match vectors {
            Some(db) => db.get(wtxn, old_key)?.and_then(decode_old_vector),
            None => None,
        };
        if let Some((embedder, v)) = old_vector {
            dbs.vectors
                .put(wtxn, &key, &encode_vector(&record.pipeline, &embedder, &v))?;
        }
        if let (Some(key_id), Some(role)) = (&record.key_id, &record.role) {
            let day = u32::try_from(record.at_ms / DAY_MS).unwrap_or(u32::MAX);
            let tokens = record.input_tokens + record.output_tokens + record.embedding_tokens;
            dbs.add_usage(wtxn, &usage_key(day, key_id, role), record.cost_usd, tokens)?;
        }
    }
    records.clear(wtxn)?;
    if let Some(db) = ids {
        db.clear(wtxn)?;
    }
    if let Some(db) = vectors {
        db.clear(wtxn)?;
    }
    Ok(())
}

/// A vector of the first layout: a length byte, the embedder id, the floats.
fn decode_old_vector(bytes: &[u8]) -> Option<(String, Vec<f32>)> {
    let (id, rest) = take_id(bytes)?;
    (rest.len() % 4 == 0).then(|| (id.to_owned(), floats(rest)))
}
