//! SVG plots of a run (plotters' SVG backend: its text needs no font files):
//! throughput per transport and suite (bars for evbus, the raw baseline,
//! the broker's bench tool and the peers, side by side, with min-max
//! whiskers on a log scale ticked at 1, 2 and 5 per decade), latency
//! percentiles per transport, and the sweep's throughput and CPU per
//! message over K, a line per handler time, and the backlog run's memory
//! over time.

use std::path::Path;

use plotters::prelude::*;

use crate::perf::{
    report::Run,
    scenarios::{
        Figure, Kind,
        backlog::Backlog,
        sweep::{self, Point},
    },
    stats::{Percentiles, Summary},
};

const EVBUS: RGBColor = RGBColor(31, 119, 180);
const RAW: RGBColor = RGBColor(255, 127, 14);
const PEER: RGBColor = RGBColor(44, 160, 44);
const TOOL: RGBColor = RGBColor(127, 127, 127);

/// One row of a throughput plot: a label and its sides' rates.
struct Row {
    label: String,
    bars: Vec<(Summary, RGBColor)>,
}

/// One throughput plot: a transport's suite, its rows and its legend.
struct Plot {
    transport: &'static str,
    suite: String,
    legend: Vec<(String, RGBColor)>,
    rows: Vec<Row>,
}

impl Plot {
    fn file(&self) -> String {
        format!("throughput-{}-{}.svg", self.transport, self.suite)
    }
}

/// The throughput plots of a run: one per transport and suite, each with
/// every side measured in it (evbus, the raw client, the broker's bench
/// tool, the peers) as bars side by side.
fn throughput_plots(run: &Run) -> Vec<Plot> {
    let mut plots: Vec<Plot> = Vec::new();
    let mut plot = |transport: &'static str, suite: &str, legend: Vec<(String, RGBColor)>| {
        let at = plots
            .iter()
            .position(|p| p.transport == transport && p.suite == suite)
            .unwrap_or_else(|| {
                plots.push(Plot {
                    transport,
                    suite: suite.to_owned(),
                    legend: Vec::new(),
                    rows: Vec::new(),
                });
                plots.len() - 1
            });
        let plot = &mut plots[at];
        for entry in legend {
            if !plot.legend.contains(&entry) {
                plot.legend.push(entry);
            }
        }
        at
    };
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for f in run.figures.iter().filter(|f| f.kind == Kind::Throughput) {
        let at = plot(
            f.transport,
            &f.suite,
            vec![("evbus".into(), EVBUS), (f.baseline.clone(), RAW)],
        );
        rows.push((at, figure_row(f, RAW)));
    }
    for c in &run.ceilings {
        let at = plot(
            c.transport,
            "ceiling",
            vec![(c.client.clone(), RAW), (c.tool.clone(), TOOL)],
        );
        let bars = vec![(c.raw_rate(), RAW), (c.bench_rate(), TOOL)];
        let label = format!(
            "{} ({:.2}x)",
            c.name,
            c.raw_rate().median / c.bench_rate().median
        );
        rows.push((at, Row { label, bars }));
    }
    for f in &run.peers {
        let legend = vec![
            ("evbus".into(), EVBUS),
            ("the peer named in the row".into(), PEER),
        ];
        let at = plot(f.transport, &f.suite, legend);
        rows.push((at, figure_row(f, PEER)));
    }
    for (at, row) in rows {
        plots[at].rows.push(row);
    }
    plots
}

fn figure_row(f: &Figure, other: RGBColor) -> Row {
    Row {
        label: format!("{} ({:.2}x)", f.name, f.ratio()),
        bars: vec![(f.evbus_rate(), EVBUS), (f.raw_rate(), other)],
    }
}

fn latency_transports(run: &Run) -> Vec<&'static str> {
    let mut list: Vec<&'static str> = run
        .figures
        .iter()
        .filter(|f| f.kind == Kind::Latency)
        .map(|f| f.transport)
        .collect();
    let mut seen = std::collections::HashSet::new();
    list.retain(|t| seen.insert(*t));
    list
}

/// The plot files a run has, with their titles.
pub fn files(run: &Run) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = throughput_plots(run)
        .iter()
        .map(|p| (p.file(), format!("{} {}: throughput", p.transport, p.suite)))
        .collect();
    for t in latency_transports(run) {
        files.push((
            format!("latency-{t}.svg"),
            format!("{t}: latency percentiles"),
        ));
    }
    for b in &run.backlogs {
        files.push((
            backlog_file(b),
            format!("{}: memory while {} messages wait", b.transport, b.messages),
        ));
    }
    for t in sweep_transports(run) {
        for measure in SweepMeasure::ALL {
            files.push((
                measure.file(t),
                format!("{t} sweep: {} over K", measure.title()),
            ));
        }
    }
    files
}

/// The transports with sweep points, in run order.
fn sweep_transports(run: &Run) -> Vec<&'static str> {
    let mut list: Vec<&'static str> = Vec::new();
    for p in &run.sweep {
        if !list.contains(&p.transport) {
            list.push(p.transport);
        }
    }
    list
}

/// What a sweep plot shows on its y axis.
#[derive(Clone, Copy)]
enum SweepMeasure {
    Throughput,
    Cpu,
}

impl SweepMeasure {
    const ALL: [Self; 2] = [Self::Throughput, Self::Cpu];

    fn file(self, transport: &str) -> String {
        match self {
            Self::Throughput => format!("sweep-{transport}-throughput.svg"),
            Self::Cpu => format!("sweep-{transport}-cpu.svg"),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Throughput => "throughput (msg/s)",
            Self::Cpu => "CPU per message (us)",
        }
    }

    /// Where the legend covers no line: the throughput lines rise to the
    /// right, the CPU lines fall from the left.
    fn legend(self) -> SeriesLabelPosition {
        match self {
            Self::Throughput => SeriesLabelPosition::LowerRight,
            Self::Cpu => SeriesLabelPosition::MiddleRight,
        }
    }

    fn of(self, point: &Point) -> f64 {
        match self {
            Self::Throughput => point.rate().median,
            Self::Cpu => point.cpu().median,
        }
    }
}

/// Draws every plot into `dir`.
pub fn draw(run: &Run, dir: &Path) -> anyhow::Result<()> {
    for plot in throughput_plots(run) {
        throughput(&dir.join(plot.file()), &plot)?;
    }
    for t in latency_transports(run) {
        let figures: Vec<&Figure> = run
            .figures
            .iter()
            .filter(|f| f.transport == t && f.kind == Kind::Latency)
            .collect();
        latency(&dir.join(format!("latency-{t}.svg")), t, &figures)?;
    }
    for b in &run.backlogs {
        backlog_plot(&dir.join(backlog_file(b)), b)?;
    }
    for t in sweep_transports(run) {
        let points: Vec<&Point> = run.sweep.iter().filter(|p| p.transport == t).collect();
        for measure in SweepMeasure::ALL {
            sweep_plot(&dir.join(measure.file(t)), t, measure, &points)?;
        }
    }
    Ok(())
}

fn backlog_file(b: &Backlog) -> String {
    format!("backlog-{}.svg", b.transport)
}

/// The backlog run's live heap and RSS over time, MiB.
fn backlog_plot(path: &Path, b: &Backlog) -> anyhow::Result<()> {
    const MIB: f64 = (1 << 20) as f64;
    let seconds = b.readings.last().map_or(1.0, |r| r.seconds).max(1.0);
    let highest = b
        .readings
        .iter()
        .map(|r| r.rss_bytes.max(r.heap_bytes) as f64 / MIB)
        .fold(1.0, f64::max);
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{}: memory of a slow consumer while {} messages wait",
                b.transport, b.messages
            ),
            ("sans-serif", 16),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..seconds, 0f64..highest * 1.2)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the first handled message")
        .y_desc("MiB")
        .draw()?;
    let lines = [
        (
            "live heap",
            EVBUS,
            b.readings.iter().map(|r| r.heap_bytes).collect::<Vec<_>>(),
        ),
        ("RSS", RAW, b.readings.iter().map(|r| r.rss_bytes).collect()),
    ];
    for (name, color, values) in lines {
        let points: Vec<(f64, f64)> = b
            .readings
            .iter()
            .zip(values)
            .map(|(r, v)| (r.seconds, v as f64 / MIB))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
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

/// One sweep plot: `measure` over K (log-log), a line per handler time.
fn sweep_plot(
    path: &Path,
    transport: &str,
    measure: SweepMeasure,
    points: &[&Point],
) -> anyhow::Result<()> {
    let values: Vec<f64> = points
        .iter()
        .map(|p| measure.of(p))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (low, high) = axis(&values);
    let k_high = sweep::AGGREGATES.last().copied().unwrap_or(1) as f64;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{transport} sweep: {} over K aggregates (log-log), median of runs",
                measure.title()
            ),
            ("sans-serif", 16),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1f64..k_high).log_scale(), (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| tick_label(*v))
        .y_label_formatter(&|v| tick_label(*v))
        .x_desc("K (aggregates)")
        .y_desc(measure.title())
        .draw()?;
    let colors = [EVBUS, RAW, PEER, TOOL];
    for (h, color) in sweep::HANDLER_US.into_iter().zip(colors) {
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.handler_us == h)
            .map(|p| (p.aggregates as f64, measure.of(p)))
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(format!("h = {} ms", h as f64 / 1e3))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            line.into_iter()
                .map(|xy| Circle::new(xy, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(measure.legend())
        .draw()?;
    root.present()?;
    Ok(())
}

/// Ticks at 1, 2 and 5 times each power of ten from `low` to `high`.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(low.log10().floor());
    while decade <= high {
        for step in [1.0, 2.0, 5.0] {
            let tick = decade * step;
            if tick >= low && tick <= high {
                ticks.push(tick);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// The ends of a log axis over `values` (positive, finite): the 1-2-5
/// tick at or below the lowest and the first one above it at or above the
/// highest, so every bar starts and ends between labelled ticks.
fn axis(values: &[f64]) -> (f64, f64) {
    let lowest = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let highest = values.iter().copied().fold(0.0, f64::max).max(lowest);
    let low = ticks(lowest / 10.0, lowest)
        .last()
        .copied()
        .unwrap_or(lowest / 2.0);
    let high = ticks(highest, highest * 10.0)
        .into_iter()
        .find(|tick| *tick > low)
        .unwrap_or(low * 10.0);
    (low, high)
}

/// A rate as a tick label: 500, 2k, 1.5M.
fn tick_label(value: f64) -> String {
    if value >= 1e6 {
        format!("{}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{}k", value / 1e3)
    } else {
        format!("{value}")
    }
}

fn throughput(path: &Path, plot: &Plot) -> anyhow::Result<()> {
    const WIDTH: i32 = 1000;
    const BAR: i32 = 10;
    const TOP: i32 = 60;
    // Room for the longest row label (about 7 px a character at 13 px).
    let longest = plot.rows.iter().map(|r| r.label.chars().count()).max();
    let label_width = (longest.unwrap_or(20) as i32 * 7 + 15).clamp(200, WIDTH / 2);
    let row_height = BAR * plot.rows.iter().map(|r| r.bars.len()).max().unwrap_or(1) as i32 + 12;
    let height = TOP + row_height * plot.rows.len() as i32 + 50;
    let root = SVGBackend::new(path, (WIDTH as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let font = ("sans-serif", 13).into_font();
    root.draw(&Text::new(
        format!(
            "{} {}: throughput, msg/s (log scale), median with min-max whiskers; \
             (ratio) = first bar / second",
            plot.transport, plot.suite
        ),
        (10, 15),
        ("sans-serif", 15).into_font(),
    ))?;
    let mut lx = 10;
    for (name, color) in &plot.legend {
        root.draw(&Rectangle::new([(lx, 32), (lx + 12, 42)], color.filled()))?;
        root.draw(&Text::new(name.clone(), (lx + 16, 31), font.clone()))?;
        lx += 30 + 7 * name.len() as i32;
    }
    let values: Vec<f64> = plot
        .rows
        .iter()
        .flat_map(|r| &r.bars)
        .flat_map(|(s, _)| [s.min, s.max])
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let (low, high) = axis(&values);
    let (log_low, log_high) = (low.log10(), high.log10());
    let x = |v: f64| {
        let v = v.max(1.0).log10().clamp(log_low, log_high);
        label_width
            + ((v - log_low) / (log_high - log_low) * f64::from(WIDTH - label_width - 40)) as i32
    };
    let bottom = height - 45;
    for tick in ticks(low, high) {
        let gx = x(tick);
        root.draw(&PathElement::new(
            vec![(gx, TOP - 10), (gx, bottom)],
            BLACK.mix(0.15),
        ))?;
        root.draw(&Text::new(
            tick_label(tick),
            (gx - 8, bottom + 5),
            font.clone(),
        ))?;
    }
    root.draw(&Text::new(
        "msg/s",
        (label_width + (WIDTH - label_width) / 2 - 20, bottom + 22),
        font.clone(),
    ))?;
    for (i, row) in plot.rows.iter().enumerate() {
        let y = TOP + row_height * i as i32;
        root.draw(&Text::new(row.label.clone(), (5, y + 6), font.clone()))?;
        for (n, (summary, color)) in row.bars.iter().enumerate() {
            bar(&root, &x, y + BAR * n as i32, *summary, *color)?;
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
            (x(summary.median), y + 8),
        ],
        color.filled(),
    ))
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.draw(&PathElement::new(
        vec![(x(summary.min), y + 4), (x(summary.max), y + 4)],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_run_one_two_five_per_decade_within_the_range() {
        assert_eq!(
            ticks(3_000.0, 60_000.0),
            [5_000.0, 10_000.0, 20_000.0, 50_000.0]
        );
        assert_eq!(ticks(1.0, 10.0), [1.0, 2.0, 5.0, 10.0]);
    }

    #[test]
    fn the_axis_spans_the_ticks_around_the_values() {
        assert_eq!(axis(&[101_000.0, 260_000.0]), (100_000.0, 500_000.0));
        assert_eq!(axis(&[7_500.0, 64_900.0]), (5_000.0, 100_000.0));
        // One value still gets an axis of two ticks.
        assert_eq!(axis(&[10_000.0]), (10_000.0, 20_000.0));
    }

    #[test]
    fn tick_labels_use_k_and_m() {
        let labels: Vec<String> = [500.0, 2_000.0, 1_500_000.0]
            .into_iter()
            .map(tick_label)
            .collect();
        assert_eq!(labels, ["500", "2k", "1.5M"]);
    }
}
