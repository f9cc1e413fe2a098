//! Turns the benchmarks' recorded comparisons into bench/RESULTS.md and a
//! chart of the ratios, so one `make bench` run leaves a report a reader can
//! check: every measure, the peer's figure, the ratio, the goal and whether
//! it was met, on which machine and when.
//!
//!     cargo run --manifest-path bench/report/Cargo.toml -- RESULTS_JSONL OUT_DIR
//!
//! Each line of RESULTS_JSONL is one comparison (bench/results.sh and
//! bench/common/mod.rs write them); a measure recorded twice keeps its last
//! value, so a rerun of one benchmark updates its rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
struct Row {
    bench: String,
    measure: String,
    unit: String,
    ours: f64,
    peer: String,
    peer_value: f64,
    /// `higher` or `lower`: which way the ratio ours/peer is better.
    better: String,
    goal: Option<f64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        if self.peer_value == 0.0 {
            f64::NAN
        } else {
            self.ours / self.peer_value
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            Some(g) if self.better == "lower" => format!("≤ {g}"),
            Some(g) => format!("≥ {g}"),
            None => "—".into(),
        }
    }

    /// Whether the goal is met; `None` without a goal.
    fn met(&self) -> Option<bool> {
        let g = self.goal?;
        let r = self.ratio();
        Some(if self.better == "lower" {
            r <= g
        } else {
            r >= g
        })
    }
}

fn read_rows(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut latest: BTreeMap<(String, String), (usize, Row)> = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row: Row =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        latest.insert((row.bench.clone(), row.measure.clone()), (i, row));
    }
    let mut rows: Vec<(usize, Row)> = latest.into_values().collect();
    rows.sort_by_key(|(i, _)| *i);
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// A command's first line of output, or `?` (the report still says what it knows).
fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(|| "?".into(), |kb| format!("{:.0}", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_owned())
            })
        })
        .unwrap_or_else(|| "?".into());
    format!(
        "{cpu}, {cores} cores, {mem_gib} GiB; {os}; kernel {}; {}",
        first_line("uname", &["-r"]),
        first_line("rustc", &["--version"])
    )
}

fn markdown(rows: &[Row], date: &str, machine: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark report\n");
    let _ = writeln!(
        md,
        "Written by `make bench` on {date} ({machine}). Each benchmark runs sealcast and its peer \
         side by side in one run, alternating rounds, and compares medians; the ratio is \
         sealcast / peer. See each benchmark's README in bench/ for what exactly is measured.\n"
    );
    let met = rows.iter().filter(|r| r.met() == Some(true)).count();
    let goals = rows.iter().filter(|r| r.goal.is_some()).count();
    let _ = writeln!(
        md,
        "**{met} of {goals} goals met.**\n\n![ratios](charts/ratios.png)\n"
    );
    let _ = writeln!(
        md,
        "| benchmark | measure | sealcast | peer | peer's figure | ratio | goal | met |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for r in rows {
        let verdict = match r.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.2} {} | {} | {:.2} {} | {:.2} | {} | {verdict} |",
            r.bench,
            r.measure,
            r.ours,
            r.unit,
            r.peer,
            r.peer_value,
            r.unit,
            r.ratio(),
            r.goal_text()
        );
    }
    md
}

/// One horizontal bar per measure with a goal line, green when met.
fn chart(rows: &[Row], out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let font = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        .map_err(|e| format!("DejaVu Sans (apt-get install fonts-dejavu-core): {e}"))?;
    register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| "DejaVu Sans is not a usable font")?;
    let rows: Vec<&Row> = rows.iter().filter(|r| r.ratio().is_finite()).collect();
    let height = 110 + 64 * rows.len() as u32;
    let root = BitMapBackend::new(out, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows
        .iter()
        .flat_map(|r| [r.ratio(), r.goal.unwrap_or(0.0)])
        .fold(1.0_f64, f64::max)
        * 1.15;
    let n = rows.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("sealcast / peer (goal marked)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(8)
        .build_cartesian_2d(0.0..max, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("ratio")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, r) in rows.iter().enumerate() {
        // Each row: the measure's name on top, its bar below.
        let top = n - i as f64 - 0.45;
        let bottom = n - i as f64 - 0.9;
        chart.draw_series(std::iter::once(Text::new(
            match r.goal {
                Some(_) => format!("{}: {} (goal {})", r.bench, r.measure, r.goal_text()),
                None => format!("{}: {} (no goal)", r.bench, r.measure),
            },
            (max * 0.005, n - i as f64 - 0.08),
            ("sans-serif", 15),
        )))?;
        let colour = match r.met() {
            Some(true) => RGBColor(46, 139, 87),
            Some(false) => RGBColor(200, 60, 50),
            None => RGBColor(110, 110, 140),
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, bottom), (r.ratio(), top)],
            colour.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{:.2}", r.ratio()),
            (
                r.ratio().max(r.goal.unwrap_or(0.0)) + max * 0.01,
                top - 0.05,
            ),
            ("sans-serif", 14),
        )))?;
        if let Some(goal) = r.goal {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(goal, bottom - 0.08), (goal, top + 0.08)],
                BLACK.stroke_width(3),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, out_dir) = match args.as_slice() {
        [_, input, out] => (PathBuf::from(input), PathBuf::from(out)),
        _ => {
            eprintln!("usage: sealcast-bench-report RESULTS_JSONL OUT_DIR");
            std::process::exit(2);
        }
    };
    let rows = read_rows(&input).unwrap_or_else(|e| {
        eprintln!("bench report: {e}");
        std::process::exit(1);
    });
    if rows.is_empty() {
        eprintln!("bench report: {} holds no results", input.display());
        std::process::exit(1);
    }
    let charts = out_dir.join("charts");
    std::fs::create_dir_all(&charts).expect("create charts dir");
    if let Err(e) = chart(&rows, &charts.join("ratios.png")) {
        eprintln!("bench report: chart: {e}");
        std::process::exit(1);
    }
    let date = first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let md = markdown(&rows, &date, &machine());
    std::fs::write(out_dir.join("RESULTS.md"), md).expect("write RESULTS.md");
    println!(
        "bench report: {} measures → {}",
        rows.len(),
        out_dir.join("RESULTS.md").display()
    );
}
