//! Analytics over the query log (`store::analytics`): the report by domain, model,
//! prompt version or day ([`report`]), and drift of the questions away from what the
//! corpus covers ([`drift`]).

pub mod drift;
pub mod report;
pub mod service;

pub use self::report::{GroupBy, Report, report};
