//! SVG plots of a run (plotters' SVG backend: its text needs no font files):
//! throughput per transport (evbus and baseline bars with min-max
//! whiskers, log scale) and latency percentiles per transport.

use std::path::Path;

use plotters::prelude::*;

use crate::perf::{
    report::Run,
    scenarios::{Figure, Kind},
    stats::{Percentiles, Summary},
};

const EVBUS: RGBColor = RGBColor(31, 119, 180);
const RAW: RGBColor = RGBColor(255, 127, 14);

fn transports(run: &Run, kind: Kind) -> Vec<&'static str> {
    // Peer figures are throughput figures too (orange: the peer).
    let mut list: Vec<&'static str> = run
        .figures
        .iter()
        .chain(&run.peers)
        .filter(|f| f.kind == kind)
        .map(|f| f.transport)
        .collect();
    // Each once, in run order (the peers come after every transport's
    // figures).
    let mut seen = std::collections::HashSet::new();
    list.retain(|t| seen.insert(*t));
    list
}

/// The plot files a run has, with their titles.
pub fn files(run: &Run) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for t in transports(run, Kind::Throughput) {
        files.push((
            format!("throughput-{t}.svg"),
            format!("{t}: throughput, evbus vs baseline"),
        ));
    }
    for t in transports(run, Kind::Latency) {
        files.push((
            format!("latency-{t}.svg"),
            format!("{t}: latency percentiles"),
        ));
    }
    files
}

/// Draws every plot into `dir`.
pub fn draw(run: &Run, dir: &Path) -> anyhow::Result<()> {
    for t in transports(run, Kind::Throughput) {
        let figures: Vec<&Figure> = run
            .figures
            .iter()
            .chain(&run.peers)
            .filter(|f| f.transport == t && f.kind == Kind::Throughput)
            .collect();
        throughput(&dir.join(format!("throughput-{t}.svg")), t, &figures)?;
    }
    for t in transports(run, Kind::Latency) {
        let figures: Vec<&Figure> = run
            .figures
            .iter()
            .filter(|f| f.transport == t && f.kind == Kind::Latency)
            .collect();
        latency(&dir.join(format!("latency-{t}.svg")), t, &figures)?;
    }
    Ok(())
}

fn throughput(path: &Path, transport: &str, figures: &[&Figure]) -> anyhow::Result<()> {
    const LABEL: i32 = 230;
    const WIDTH: i32 = 900;
    const ROW: i32 = 30;
    const TOP: i32 = 50;
    let height = TOP + ROW * figures.len() as i32 + 40;
    let root = SVGBackend::new(path, (WIDTH as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(
        format!("{transport}: msg/s (log scale), median with min-max; blue evbus, orange baseline"),
        (10, 15),
        ("sans-serif", 15).into_font(),
    ))?;
    let values: Vec<f64> = figures
        .iter()
        .flat_map(|f| [f.evbus_rate(), f.raw_rate()])
        .flat_map(|s| [s.min, s.max])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let low = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1.0)
        / 2.0;
    let high = values.iter().copied().fold(0.0, f64::max) * 1.5;
    let (low, high) = (low.log10(), high.max(low * 10.0).log10());
    let x = |v: f64| {
        let v = v.max(1.0).log10().clamp(low, high);
        LABEL + ((v - low) / (high - low) * f64::from(WIDTH - LABEL - 80)) as i32
    };
    // Decade grid.
    let mut decade = 10f64.powf(low.ceil());
    while decade.log10() <= high {
        let gx = x(decade);
        root.draw(&PathElement::new(
            vec![(gx, TOP - 10), (gx, height - 30)],
            BLACK.mix(0.15),
        ))?;
        root.draw(&Text::new(
            format!("{decade:.0}"),
            (gx - 10, height - 25),
            font.clone(),
        ))?;
        decade *= 10.0;
    }
    for (i, f) in figures.iter().enumerate() {
        let y = TOP + ROW * i as i32;
        root.draw(&Text::new(
            format!("{} {} ({:.2}x)", f.suite, f.name, f.ratio()),
            (5, y + 8),
            font.clone(),
        ))?;
        for (offset, summary, color) in [(0, f.evbus_rate(), EVBUS), (12, f.raw_rate(), RAW)] {
            bar(&root, &x, y + offset, summary, color)?;
        }
    }
    root.present()?;
    Ok(())
}

fn bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    x: &dyn Fn(f64) -> i32,
    y: i32,
    summary: Summary,
    color: RGBColor,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    if !summary.median.is_finite() {
        return Ok(());
    }
    root.draw(&Rectangle::new(
        [
            (x(1.0).min(x(summary.median)), y),
            (x(summary.median), y + 10),
        ],
        color.filled(),
    ))
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.draw(&PathElement::new(
        vec![(x(summary.min), y + 5), (x(summary.max), y + 5)],
        BLACK.stroke_width(1),
    ))
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn latency(path: &Path, transport: &str, figures: &[&Figure]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut highest: f64 = 10.0;
    for f in figures {
        for i in 0..Percentiles::NAMES.len() {
            let (e, r) = f.latency(i);
            highest = highest.max(e.median).max(r.median);
        }
    }
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{transport}: publish-to-handler latency (us, log), median of runs"),
            ("sans-serif", 16),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..3f64, (1f64..highest * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|v| {
            Percentiles::NAMES
                .get(v.round() as usize)
                .copied()
                .unwrap_or("")
                .to_owned()
        })
        .y_desc("microseconds")
        .draw()?;
    for (n, f) in figures.iter().enumerate() {
        for (side, color) in [EVBUS, RAW].into_iter().enumerate() {
            let points: Vec<(f64, f64)> = (0..Percentiles::NAMES.len())
                .map(|i| {
                    let (e, r) = f.latency(i);
                    (i as f64, if side == 0 { e.median } else { r.median })
                })
                .filter(|(_, v)| v.is_finite())
                .collect();
            let width = if n == 0 { 1 } else { 3 };
            let label = format!(
                "{} {}",
                if side == 0 {
                    "evbus".to_owned()
                } else {
                    f.baseline.clone()
                },
                f.name
            );
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(width)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
                });
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}
