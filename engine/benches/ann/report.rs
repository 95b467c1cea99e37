//! Output: speed-ups against the exact scan, the printed table and the JSON report.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::{Build, Distribution, Record, Report};

/// Speed-up of every series against the store's exact LMDB scan of the same size,
/// distribution and filter.
pub(crate) fn fill_speedups(records: &mut [Record]) {
    let reference: Vec<(usize, Distribution, bool, f64)> = records
        .iter()
        .filter(|r| r.backend == "exact" && r.setting.starts_with("LMDB"))
        .map(|r| (r.size, r.distribution, r.filtered, r.p50_ms))
        .collect();
    for record in records.iter_mut() {
        record.speedup_p50_vs_exact_scan = reference
            .iter()
            .find(|(size, distribution, filtered, _)| {
                (*size, *distribution, *filtered) == (record.size, record.distribution, record.filtered)
            })
            .map(|&(_, _, _, p50)| p50 / record.p50_ms);
    }
}

pub(crate) fn print_table(records: &[Record], builds: &[Build]) {
    let mut out = String::new();
    writeln!(
        out,
        "\n{:>8} {:<9} {:<7} {:<30} {:<5} {:>8} {:>9} {:>9} {:>9}",
        "size", "dist", "backend", "setting", "filt", "recall", "p50 ms", "p99 ms", "vs scan"
    )
    .unwrap();
    for r in records {
        let speedup = r
            .speedup_p50_vs_exact_scan
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}x"));
        writeln!(
            out,
            "{:>8} {:<9} {:<7} {:<30} {:<5} {:>8.3} {:>9.3} {:>9.3} {:>9}",
            r.size,
            format!("{:?}", r.distribution).to_lowercase(),
            r.backend,
            r.setting,
            if r.filtered { "10%" } else { "no" },
            r.recall_at_10,
            r.p50_ms,
            r.p99_ms,
            speedup
        )
        .unwrap();
    }
    for b in builds {
        writeln!(
            out,
            "build {:>8} {:<9} {:<7} {:<40} add {:>6.1}s  build {:>7.1}s  disk {:>6} MB  load {:.1}->{:.1}",
            b.size,
            format!("{:?}", b.distribution).to_lowercase(),
            b.backend,
            b.params,
            b.add_secs,
            b.build_secs,
            b.disk_bytes >> 20,
            b.load_before,
            b.load_after
        )
        .unwrap();
    }
    println!("{out}");
}

pub(crate) fn write_report(out: &Path, report: &Report, append: bool) -> anyhow::Result<()> {
    let mut merged = Report {
        command: report.command.clone(),
        cores: report.cores,
        dims: report.dims,
        queries: report.queries,
        filter_fraction: report.filter_fraction,
        builds: report.builds.clone(),
        results: report.results.clone(),
    };
    if append && let Ok(text) = std::fs::read_to_string(out) {
        let old: Report = serde_json::from_str(&text).with_context(|| format!("parsing {}", out.display()))?;
        let same_series = |r: &Record| {
            report.results.iter().any(|n| {
                (n.size, n.distribution, &n.backend, &n.setting, n.filtered)
                    == (r.size, r.distribution, &r.backend, &r.setting, r.filtered)
            })
        };
        let same_build = |b: &Build| {
            report
                .builds
                .iter()
                .any(|n| (n.size, n.distribution, &n.backend) == (b.size, b.distribution, &b.backend))
        };
        merged.command = if old.command.ends_with(&report.command) {
            old.command
        } else {
            format!("{} ; {}", old.command, report.command)
        };
        merged.builds = old.builds.into_iter().filter(|b| !same_build(b)).collect();
        merged.builds.extend(report.builds.iter().cloned());
        merged.results = old.results.into_iter().filter(|r| !same_series(r)).collect();
        merged.results.extend(report.results.iter().cloned());
        merged.results.sort_by(|a, b| {
            (a.size, a.distribution as u8, &a.backend).cmp(&(b.size, b.distribution as u8, &b.backend))
        });
        fill_speedups(&mut merged.results);
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, serde_json::to_string_pretty(&merged)? + "\n")?;
    Ok(())
}
