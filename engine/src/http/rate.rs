//! Request rates per client IP and per API key (`limits.rate` in `ragline.yaml`),
//! counted by tower_governor before the key is checked, so guessing keys is limited
//! too. Over the rate: 429 `rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use sha2::{Digest, Sha256};
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::{KeyExtractor, SmartIpKeyExtractor};

use super::ApiError;
use super::auth::presented;
use crate::config::http::{Quota, RateLimits};
use crate::telemetry::record;

/// How often the limiters forget clients whose buckets are full again.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The sha256 of the API key it carries (the key itself is never kept).
    Key([u8; 32]),
    Ip(IpAddr),
    /// Neither a key nor a peer address (a router driven without a listener).
    Unknown,
}

/// The client IP: the peer's, or what the proxy headers say when they are trusted.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    trust_forwarded: bool,
}

impl ClientIp {
    fn of<T>(self, request: &Request<T>) -> Caller {
        let forwarded = self
            .trust_forwarded
            .then(|| SmartIpKeyExtractor.extract(request).ok())
            .flatten();
        let peer = || request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        forwarded.or_else(peer).map_or(Caller::Unknown, Caller::Ip)
    }
}

impl KeyExtractor for ClientIp {
    type Key = Caller;

    fn extract<T>(&self, request: &Request<T>) -> Result<Caller, GovernorError> {
        Ok(self.of(request))
    }
}

/// The API key a request carries, else its client IP.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey(ClientIp);

impl KeyExtractor for ApiKey {
    type Key = Caller;

    fn extract<T>(&self, request: &Request<T>) -> Result<Caller, GovernorError> {
        Ok(match presented(request.headers()).filter(|k| !k.is_empty()) {
            Some(key) => Caller::Key(Sha256::digest(key.as_bytes()).into()),
            None => self.0.of(request),
        })
    }
}

/// `router` with the configured limits on every route it has.
pub fn limit<S: Clone + Send + Sync + 'static>(router: Router<S>, rates: RateLimits) -> Router<S> {
    let ip = ClientIp {
        trust_forwarded: rates.trust_forwarded,
    };
    let mut router = router;
    if let Some(quota) = rates.per_key {
        router = with_layer(router, ApiKey(ip), quota, "per_key", "API key");
    }
    if let Some(quota) = rates.per_ip {
        router = with_layer(router, ip, quota, "per_ip", "client IP");
    }
    router
}

fn with_layer<K, S>(router: Router<S>, extractor: K, quota: Quota, limit: &'static str, whom: &'static str) -> Router<S>
where
    K: KeyExtractor<Key = Caller> + Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
{
    let mut builder = GovernorConfigBuilder::default().key_extractor(extractor);
    builder.period(quota.period()).burst_size(quota.burst.max(1));
    let Some(config) = builder.finish().map(Arc::new) else {
        tracing::error!(%quota, "limits.rate.{limit} cannot be applied");
        return router;
    };
    forget_regularly(&config);
    router.layer(GovernorLayer::new(config).error_handler(move |e| refused(e, limit, whom, quota)))
}

/// Drop the state of clients that have not been seen for a while, so the limiters'
/// memory stays bounded by the active clients.
fn forget_regularly<K>(config: &Arc<GovernorConfig<K, NoOpMiddleware>>)
where
    K: KeyExtractor<Key = Caller> + Send + Sync + 'static,
{
    let limiter = config.limiter().clone();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut every = tokio::time::interval(FORGET_EVERY);
            loop {
                every.tick().await;
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
    }
}

/// Requests per key of a role (`key_rate` in `access.yaml`), counted once the key is
/// checked. A limiter is kept per role and rate, so a reload that keeps a role's rate
/// keeps its counts; keys are few (the key store's), so their state stays small.
#[derive(Default)]
pub struct KeyRates {
    limiters: Mutex<HashMap<(String, Quota), Arc<KeyLimiter>>>,
}

type KeyLimiter = DefaultKeyedRateLimiter<String>;

impl std::fmt::Debug for KeyRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRates")
    }
}

impl KeyRates {
    /// Count a request of `key_id` under `role`'s `quota`: the 429 when it is over.
    pub fn refusal(&self, role: &str, quota: Quota, key_id: &str) -> Option<Response<Body>> {
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let limiter = limiters.entry((role.to_owned(), quota)).or_insert_with(|| {
                let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
                let rate = governor::Quota::with_period(quota.period()).map(|q| q.allow_burst(burst));
                Arc::new(RateLimiter::keyed(
                    rate.unwrap_or_else(|| governor::Quota::per_second(burst)),
                ))
            });
            limiter.clone()
        };
        let not_until = limiter.check_key(&key_id.to_owned()).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let whom = format!("this API key (access.yaml roles.{role}.key_rate: {quota})");
        Some(too_many("key_rate", &whom, wait.as_secs() + 1))
    }
}

/// 429 in the API's error shape, with `Retry-After` in whole seconds (at least 1).
fn refused(error: GovernorError, limit: &'static str, whom: &'static str, quota: Quota) -> Response<Body> {
    let GovernorError::TooManyRequests { wait_time, .. } = error else {
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string()).into_response();
    };
    too_many(limit, &format!("this {whom} (limits.rate.{limit}: {quota})"), wait_time)
}

fn too_many(limit: &'static str, whom: &str, wait_s: u64) -> Response<Body> {
    record::rate_limited(limit);
    let wait = wait_s.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests from {whom}; retry in {wait} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}
