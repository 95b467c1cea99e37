//! The Redis backend against a real `redis-server` (Debian's, on loopback): two ragline
//! processes share answers, a Redis killed mid-run is bypassed and counted while every
//! request is still answered, an ingest retires one replica's entries, clearing works
//! across replicas, and entries expire with the TTL.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cache::{LEAVE, ask, demo_copy, status, stored, upload_parking};
use crate::debian;
use crate::support::{Server, client};
use crate::telemetry::{sample, scrape};

/// A `redis-server` on a loopback port, with no persistence, killed on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let binary = debian::program("redis-server", "redis-server");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let redis = Redis {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while redis.try_conn().is_none() {
            assert!(Instant::now() < deadline, "redis-server never answered on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn try_conn(&self) -> Option<redis::Connection> {
        let mut c = redis::Client::open(self.url())
            .ok()?
            .get_connection_with_timeout(Duration::from_millis(200))
            .ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    /// The keys ragline wrote.
    fn keys(&self) -> Vec<String> {
        let mut c = self.try_conn().unwrap();
        redis::cmd("KEYS").arg("ragline:cache:*").query(&mut c).unwrap()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The demo config with the hr pipeline caching in `redis` for `ttl`.
fn redis_config(redis: &Redis, ttl: &str) -> tempfile::TempDir {
    let section = format!("cache:\n  backend: redis\n  url: {}\n  ttl: {ttl}\n", redis.url());
    demo_copy(|y| {
        let i = y.find("cache:").unwrap();
        let end = i + y[i..].find("ttl: 24h\n").unwrap() + "ttl: 24h\n".len();
        format!("{}{section}{}", &y[..i], &y[end..])
    })
}

#[tokio::test]
async fn replicas_share_answers_and_a_dead_redis_is_bypassed() {
    let mut redis = Redis::start(free_port());
    let dir = redis_config(&redis, "24h");
    let config = dir.path().to_str().unwrap();
    let a = Server::start(config, &["--ingest"]);
    let b = Server::start(config, &["--ingest"]);
    let info: Value = client()
        .get(a.url("/v1/pipelines/hr"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["cache"]["backend"], "redis", "{info:#}");

    // Answered once by one replica, served by the other.
    let (first, fresh) = status(&a, LEAVE).await;
    assert_eq!(first, "miss", "{fresh:#}");
    stored(&a, LEAVE).await;
    let (st, shared) = status(&b, LEAVE).await;
    assert_eq!(
        st, "exact",
        "the second replica serves the first one's answer: {shared:#}"
    );
    assert_eq!(shared["answer"], fresh["answer"]);
    let (st, para) = status(&b, "How many days of vacation does an employee receive?").await;
    assert_eq!(st, "semantic", "{para:#}");
    let (st, body) = status(&b, "Which employees do not get vacation days?").await;
    assert_eq!(st, "miss", "{body:#}");
    let keys = redis.keys();
    assert!(keys.iter().any(|k| k.ends_with(":ages")), "{keys:?}");
    assert!(keys.len() >= 2, "a slot and the ages of its entries: {keys:?}");

    // Redis dies: every request is still answered, without the cache, and counted.
    redis.kill();
    for _ in 0..3 {
        let (st, body) = status(&a, LEAVE).await;
        assert_eq!(st, "bypass", "{body:#}");
        assert_eq!(body["answer"], fresh["answer"], "answered by the pipeline itself");
    }
    let m = scrape(&a).await;
    let bypassed = sample(
        &m,
        "ragline_cache_bypasses_total",
        &[("pipeline", "hr"), ("reason", "unavailable")],
    );
    assert!(bypassed.unwrap() >= 3.0, "{m}");
    let r = client().delete(a.url("/v1/pipelines/hr/cache")).send().await.unwrap();
    assert_eq!(r.status(), 503, "clearing a cache that cannot be reached says so");
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "cache_unavailable", "{err:#}");

    // Back (empty): after the rest period the cache is used again.
    let redis = Redis::start(redis.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (st, body) = status(&a, LEAVE).await;
        if st == "miss" {
            break;
        }
        assert_eq!(st, "bypass", "{body:#}");
        assert!(Instant::now() < deadline, "the cache never came back: {body:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stored(&a, LEAVE).await;
    stored(&b, LEAVE).await;

    // An ingest on one replica moves its epoch only: its index changed, the other's not.
    upload_parking(&a).await;
    let (st, body) = status(&a, LEAVE).await;
    assert_eq!(st, "miss", "{body:#}");
    let (st, body) = status(&b, LEAVE).await;
    assert_eq!(st, "exact", "{body:#}");

    // Clearing on one replica clears the shared entries.
    let r = client().delete(b.url("/v1/pipelines/hr/cache")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cleared: Value = r.json().await.unwrap();
    assert!(cleared["removed"].as_u64().unwrap() >= 1, "{cleared:#}");
    assert!(redis.keys().is_empty(), "{:?}", redis.keys());
    let body = ask(&b, "hr", json!({"query": LEAVE, "user": "u1"})).await;
    assert_eq!(body["cache"]["status"], "miss", "{body:#}");
}

#[tokio::test]
async fn redis_entries_expire_with_the_ttl() {
    let redis = Redis::start(free_port());
    let dir = redis_config(&redis, "2s");
    let s = Server::start(dir.path().to_str().unwrap(), &["--ingest"]);
    status(&s, LEAVE).await;
    stored(&s, LEAVE).await;
    assert!(!redis.keys().is_empty());

    // Redis itself drops the keys once the TTL passes, and the answer is not served.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(redis.keys().is_empty(), "{:?}", redis.keys());
    let (st, body) = status(&s, LEAVE).await;
    assert_eq!(st, "miss", "expired: {body:#}");
}
