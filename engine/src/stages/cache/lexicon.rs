//! The word lists [`super::verify`] reads questions with: negations, antonym pairs,
//! number words, months and other dates, and capitalised words that are not names.

/// Words that negate what follows.
pub(super) const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot", "non",
];

/// Antonym pairs: a question with a word of one side against one with a word of the
/// other asks the opposite. Only words that rarely appear in a paraphrase of their own
/// opposite (so not `on`/`off` or `in`/`out`, which "time off" and "policy on" use).
pub(super) const ANTONYMS: &[(&[&str], &[&str])] = &[
    (
        &[
            "allowed",
            "permitted",
            "allow",
            "allows",
            "permit",
            "permits",
            "acceptable",
            "legal",
        ],
        &[
            "forbidden",
            "prohibited",
            "banned",
            "disallowed",
            "forbid",
            "prohibit",
            "ban",
            "block",
            "blocked",
            "unacceptable",
            "illegal",
        ],
    ),
    (
        &[
            "maximum", "max", "most", "highest", "longest", "largest", "greatest", "latest", "upper", "biggest",
        ],
        &[
            "minimum", "min", "least", "lowest", "shortest", "smallest", "fewest", "earliest", "lower", "smallest",
        ],
    ),
    (&["before", "prior", "preceding"], &["after", "following", "later"]),
    (
        &[
            "increase",
            "increases",
            "increased",
            "raise",
            "raised",
            "more",
            "above",
            "over",
            "exceed",
            "exceeds",
            "exceeding",
            "higher",
            "longer",
            "larger",
        ],
        &[
            "decrease",
            "decreases",
            "decreased",
            "reduce",
            "reduced",
            "cut",
            "less",
            "below",
            "under",
            "fewer",
            "shorter",
            "smaller",
        ],
    ),
    (
        &[
            "enable",
            "enabled",
            "enabling",
            "activate",
            "activated",
            "start",
            "starts",
            "begin",
            "begins",
            "beginning",
        ],
        &[
            "disable",
            "disabled",
            "disabling",
            "deactivate",
            "deactivated",
            "end",
            "ends",
            "finish",
            "stop",
            "stops",
        ],
    ),
    (
        &[
            "approve", "approved", "approves", "approval", "accept", "accepted", "grant", "granted",
        ],
        &[
            "reject",
            "rejected",
            "rejects",
            "rejection",
            "decline",
            "declined",
            "deny",
            "denied",
            "refuse",
            "refused",
        ],
    ),
    (
        &["include", "includes", "included", "including", "inclusive"],
        &["exclude", "excludes", "excluded", "excluding", "exclusive"],
    ),
    (
        &["open", "opened", "opening", "opens"],
        &["close", "closed", "closing", "closes"],
    ),
    (
        &["buy", "buying", "purchase", "purchasing"],
        &["sell", "selling", "sale"],
    ),
    (
        &["pass", "passed", "passes", "success", "successful"],
        &["fail", "failed", "fails", "failure", "unsuccessful"],
    ),
    (&["paid"], &["unpaid"]),
    (
        &["required", "mandatory", "must", "obligatory", "compulsory"],
        &["optional", "voluntary"],
    ),
    (
        &["internal", "inbound", "inside", "domestic"],
        &["external", "outbound", "outside", "international", "abroad"],
    ),
    (
        &["upgrade", "upgrades", "upgrading"],
        &["downgrade", "downgrades", "downgrading"],
    ),
    (
        &["lock", "locked", "encrypt", "encrypted"],
        &["unlock", "unlocked", "decrypt", "decrypted"],
    ),
    (&["up"], &["down"]),
    (&["senior"], &["junior"]),
    (&["public"], &["private", "confidential"]),
    (&["permanent"], &["temporary"]),
    (&["early", "earlier"], &["late", "later"]),
    (&["new", "newest"], &["old", "oldest", "former", "previous"]),
    (&["full"], &["part", "partial"]),
    (&["win", "won", "gain", "gained"], &["lose", "lost", "loss"]),
    (
        &["hire", "hired", "hiring", "join", "joining", "onboarding"],
        &[
            "fire",
            "fired",
            "quit",
            "resign",
            "resigning",
            "resignation",
            "offboarding",
        ],
    ),
    (&["true", "valid"], &["false", "invalid"]),
    (&["use", "uses", "using", "adopt"], &["avoid", "avoids", "avoiding"]),
    (&["meet", "meets", "met"], &["miss", "misses", "missed"]),
    (
        &["add", "adds", "added", "adding"],
        &[
            "remove", "removes", "removed", "removing", "delete", "deletes", "deleted",
        ],
    ),
    (
        &["keep", "keeps", "kept", "retain", "retained"],
        &["delete", "deleted", "remove", "removed", "discard", "discarded"],
    ),
    (&["office", "onsite"], &["home", "remote", "remotely"]),
    (&["first"], &["last", "final"]),
    // Who pays, who acts: "does the company pay" is not "do employees pay themselves".
    (
        &["company", "employer", "we"],
        &["themselves", "myself", "yourself", "ourselves", "yourselves"],
    ),
];

/// Number words and ordinals, as digits.
pub(super) const NUMBER_WORDS: &[(&str, &str)] = &[
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("fifteen", "15"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("ninety", "90"),
    ("hundred", "100"),
    ("thousand", "1000"),
    ("million", "1000000"),
    ("billion", "1000000000"),
    ("once", "1"),
    ("twice", "2"),
    ("single", "1"),
    ("double", "2"),
    ("half", "0.5"),
    ("dozen", "12"),
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
    ("fourth", "4th"),
    ("fifth", "5th"),
    ("tenth", "10th"),
];

/// Months, compared like numbers by their first three letters (`may` is left out: it
/// is usually the verb).
pub(super) const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// Other dates and periods, compared like numbers.
pub(super) const DATE_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "yesterday",
    "today",
    "tomorrow",
    "weekday",
    "weekend",
    "q1",
    "q2",
    "q3",
    "q4",
    "h1",
    "h2",
];

/// Capitalised words that are not names.
pub(super) const NOT_ENTITIES: &[&str] = &["i", "a", "an", "the", "ok", "okay", "please", "hi", "hello", "thanks"];
