//! What each API key and role spent this UTC day and month, for the budgets of
//! `access.yaml`. Every answer adds its usage (tokens and cost, as in the query log); a
//! request is refused while a budget it falls under is spent. At start the ledger is
//! summed from the query log's daily usage, so a restart forgets nothing written.
//!
//! The check is made before a request and the spend added after it, so concurrent
//! requests may pass a budget by what they cost together; the next one is refused.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Date, Month, OffsetDateTime, Time};

use crate::config::access::{Budget, Role};
use crate::store::analytics::Usage;

const DAY_MS: u64 = 86_400_000;

/// Who pays for a query: the API key (by id) and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub key_id: String,
    pub role: String,
}

/// A budget that is spent.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    /// Which: `key_daily_usd`, `role_monthly_tokens`, ...
    pub budget: &'static str,
    /// What was spent, and the limit, in the budget's unit.
    pub spent: f64,
    pub limit: f64,
    /// When the period ends (Unix milliseconds).
    pub resets_at_ms: u64,
}

impl Exceeded {
    /// `$1.02 of $1.00` or `10500 of 10000 tokens`.
    pub fn amounts(&self) -> String {
        if self.budget.ends_with("usd") {
            format!("${:.4} of ${:.4}", self.spent, self.limit)
        } else {
            format!("{} of {} tokens", self.spent, self.limit)
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    usd: f64,
    tokens: u64,
}

impl Totals {
    fn add(&mut self, usd: f64, tokens: u64) {
        self.usd += usd;
        self.tokens += tokens;
    }
}

/// One subject's spend in the current day and month.
#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    day: Totals,
    month: Totals,
}

#[derive(Debug, Hash, PartialEq, Eq, Clone)]
enum Subject {
    Key(String),
    Role(String),
}

#[derive(Debug, Default)]
struct Ledger {
    /// The day and month the totals are for: (days since the epoch, year * 12 + month).
    period: (i64, i32),
    spent: HashMap<Subject, Spent>,
}

impl Ledger {
    /// Start a new day or month when `at_ms` is in a later one.
    fn roll(&mut self, at_ms: u64) {
        let period = period_of(at_ms);
        if period <= self.period {
            return;
        }
        if period.1 != self.period.1 {
            self.spent.clear();
        } else {
            for s in self.spent.values_mut() {
                s.day = Totals::default();
            }
        }
        self.period = period;
    }

    fn add(&mut self, subject: Subject, usd: f64, tokens: u64) {
        let s = self.spent.entry(subject).or_default();
        s.day.add(usd, tokens);
        s.month.add(usd, tokens);
    }
}

/// The spend ledger.
#[derive(Debug, Default)]
pub struct Spend {
    ledger: Mutex<Ledger>,
}

impl Spend {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Add an answer's `usd` and `tokens` to its account, as of `at_ms`.
    pub fn add(&self, account: &Account, usd: f64, tokens: u64, at_ms: u64) {
        let mut ledger = self.ledger();
        ledger.roll(at_ms);
        ledger.add(Subject::Key(account.key_id.clone()), usd, tokens);
        ledger.add(Subject::Role(account.role.clone()), usd, tokens);
    }

    /// Sum `usage` (the query log's daily usage since the month began) into the ledger.
    pub fn load(&self, usage: &[Usage], now_ms: u64) {
        let mut ledger = self.ledger();
        ledger.roll(now_ms);
        let (day, month) = ledger.period;
        for u in usage {
            let (used_day, used_month) = period_of(u64::from(u.day) * DAY_MS);
            if used_month != month {
                continue;
            }
            for subject in [Subject::Key(u.key_id.clone()), Subject::Role(u.role.clone())] {
                let s = ledger.spent.entry(subject).or_default();
                s.month.add(u.cost_usd, u.tokens);
                if used_day == day {
                    s.day.add(u.cost_usd, u.tokens);
                }
            }
        }
    }

    /// The first budget of `role` that `key_id` or the role has spent, as of `now_ms`.
    pub fn check(&self, key_id: &str, role: &Role, now_ms: u64) -> Option<Exceeded> {
        if role.key_budget.is_empty() && role.role_budget.is_empty() {
            return None;
        }
        let mut ledger = self.ledger();
        ledger.roll(now_ms);
        let spent = |s: Subject| ledger.spent.get(&s).copied().unwrap_or_default();
        let key = spent(Subject::Key(key_id.to_owned()));
        let all = spent(Subject::Role(role.name.clone()));
        let (day_ends, month_ends) = period_ends(now_ms);
        over(
            &role.key_budget,
            &key,
            [
                "key_daily_usd",
                "key_monthly_usd",
                "key_daily_tokens",
                "key_monthly_tokens",
            ],
            day_ends,
            month_ends,
        )
        .or_else(|| {
            over(
                &role.role_budget,
                &all,
                [
                    "role_daily_usd",
                    "role_monthly_usd",
                    "role_daily_tokens",
                    "role_monthly_tokens",
                ],
                day_ends,
                month_ends,
            )
        })
    }
}

/// The first limit of `budget` that `spent` reached.
fn over(budget: &Budget, spent: &Spent, names: [&'static str; 4], day_ends: u64, month_ends: u64) -> Option<Exceeded> {
    let tokens = |limit: Option<u64>| limit.map(|l| l as f64);
    let limits = [
        (budget.daily_usd, spent.day.usd, day_ends),
        (budget.monthly_usd, spent.month.usd, month_ends),
        (tokens(budget.daily_tokens), spent.day.tokens as f64, day_ends),
        (tokens(budget.monthly_tokens), spent.month.tokens as f64, month_ends),
    ];
    limits
        .into_iter()
        .zip(names)
        .find_map(|((limit, spent, resets_at_ms), budget)| {
            let limit = limit?;
            (spent >= limit).then_some(Exceeded {
                budget,
                spent,
                limit,
                resets_at_ms,
            })
        })
}

fn utc(at_ms: u64) -> OffsetDateTime {
    let nanos = i128::from(at_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// (days since the epoch, year * 12 + month) of `at_ms`, in UTC.
fn period_of(at_ms: u64) -> (i64, i32) {
    let t = utc(at_ms);
    let day = i64::try_from(at_ms / 86_400_000).unwrap_or(i64::MAX);
    (day, t.year() * 12 + i32::from(u8::from(t.month())))
}

/// When the UTC month of `now_ms` began, in Unix milliseconds.
pub fn month_start_ms(now_ms: u64) -> u64 {
    let t = utc(now_ms);
    let start = Date::from_calendar_date(t.year(), t.month(), 1).map_or(0, |d| {
        u64::try_from(d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()).unwrap_or(0)
    });
    start * 1000
}

/// When the UTC day and month of `now_ms` end, in Unix milliseconds.
fn period_ends(now_ms: u64) -> (u64, u64) {
    let t = utc(now_ms);
    let ms = |d: Option<Date>| {
        d.map_or(u64::MAX, |d| {
            let seconds = d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp();
            u64::try_from(seconds).unwrap_or(0) * 1000
        })
    };
    let next_day = t.date().next_day();
    let (year, month) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let next_month = Date::from_calendar_date(year, month, 1).ok();
    (ms(next_day), ms(next_month))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::access::Grant;

    const DEC_3: u64 = 1_796_300_000_000; // 2026-12-03T12:13:20Z

    fn role(key_budget: Budget, role_budget: Budget) -> Role {
        Role {
            name: "app".into(),
            pipelines: Grant::All,
            domains: Grant::All,
            scopes: Default::default(),
            key_budget,
            role_budget,
            key_rate: None,
        }
    }

    fn account(key: &str) -> Account {
        Account {
            key_id: key.into(),
            role: "app".into(),
        }
    }

    #[test]
    fn a_key_is_refused_once_it_spent_its_day_until_the_day_ends() {
        let r = role(
            Budget {
                daily_usd: Some(0.01),
                ..Budget::default()
            },
            Budget::default(),
        );
        let spend = Spend::default();
        assert_eq!(spend.check("k1", &r, DEC_3), None);
        spend.add(&account("k1"), 0.006, 100, DEC_3);
        assert_eq!(spend.check("k1", &r, DEC_3), None);
        spend.add(&account("k1"), 0.006, 100, DEC_3);
        let e = spend.check("k1", &r, DEC_3).unwrap();
        assert_eq!(e.budget, "key_daily_usd");
        assert_eq!(e.amounts(), "$0.0120 of $0.0100");
        assert_eq!(
            time::OffsetDateTime::from_unix_timestamp((e.resets_at_ms / 1000) as i64)
                .unwrap()
                .to_string(),
            "2026-12-04 0:00:00.0 +00:00:00"
        );
        assert_eq!(spend.check("k2", &r, DEC_3), None, "another key of the role");
        assert_eq!(spend.check("k1", &r, DEC_3 + 86_400_000), None, "the next day");
    }

    #[test]
    fn a_role_budget_counts_all_its_keys_and_months_reset() {
        let r = role(
            Budget::default(),
            Budget {
                monthly_tokens: Some(1000),
                ..Budget::default()
            },
        );
        let spend = Spend::default();
        spend.add(&account("k1"), 0.0, 600, DEC_3);
        spend.add(&account("k2"), 0.0, 400, DEC_3);
        let e = spend.check("k3", &r, DEC_3).unwrap();
        assert_eq!(
            (e.budget, e.amounts().as_str()),
            ("role_monthly_tokens", "1000 of 1000 tokens")
        );
        assert_eq!(
            time::OffsetDateTime::from_unix_timestamp((e.resets_at_ms / 1000) as i64)
                .unwrap()
                .date()
                .to_string(),
            "2027-01-01"
        );
        let january = DEC_3 + 30 * 86_400_000;
        assert_eq!(spend.check("k3", &r, january), None);
    }

    #[test]
    fn the_ledger_is_summed_from_the_daily_usage() {
        let r = role(
            Budget {
                daily_tokens: Some(100),
                monthly_usd: Some(1.0),
                ..Budget::default()
            },
            Budget::default(),
        );
        let usage = |at_ms: u64, key: &str, usd: f64, tokens: u64| Usage {
            day: u32::try_from(at_ms / DAY_MS).unwrap(),
            key_id: key.into(),
            role: "app".into(),
            cost_usd: usd,
            tokens,
        };
        let spend = Spend::default();
        spend.load(
            &[
                usage(DEC_3 - 86_400_000, "k1", 0.6, 500),
                usage(DEC_3, "k1", 0.1, 50),
                usage(DEC_3, "k2", 5.0, 5000),
                usage(DEC_3 - 40 * 86_400_000, "k1", 9.0, 0),
            ],
            DEC_3,
        );
        assert_eq!(spend.check("k1", &r, DEC_3), None, "50 tokens today, $0.70 this month");
        spend.add(&account("k1"), 0.3, 10, DEC_3);
        assert_eq!(spend.check("k1", &r, DEC_3).unwrap().budget, "key_monthly_usd");
    }
}
