//! Charts as pure renderers: series in, SVG markup out (plotters' SVG backend writing to a
//! string), so the server and the browser produce the same markup and tests can read it.
//! Only lines are drawn; titles, legends and axis values are HTML around the chart, so no
//! font backend is needed on either side.

use plotters::prelude::*;

/// Colours per version, in order (v1, v2, v3, ...), readable on white.
pub const PALETTE: [(u8, u8, u8); 6] = [
    (42, 125, 225),
    (230, 126, 34),
    (46, 158, 107),
    (155, 89, 182),
    (204, 61, 61),
    (90, 100, 110),
];

pub fn css_color(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One line of a chart.
pub struct Line<'a> {
    pub points: &'a [(f64, f64)],
    pub color: usize,
    pub dashed: bool,
}

/// The y range the chart shows: from 0 to a little above the highest finite value (at least
/// `min_top`, so a flat zero line is not drawn at the top).
pub fn y_top(lines: &[Line<'_>], min_top: f64) -> f64 {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    (max * 1.1).max(min_top)
}

/// Renders lines over the time range `[x0, x1]` and values `[0, top]` as SVG.
pub fn line_chart(
    lines: &[Line<'_>],
    x0: f64,
    x1: f64,
    top: f64,
    width: u32,
    height: u32,
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let built = ChartBuilder::on(&root)
            .margin(4)
            .build_cartesian_2d(x0..x1, 0.0..top.max(f64::MIN_POSITIVE));
        if let Ok(mut chart) = built {
            // Light horizontal guides at quarters, as lines (no text needed).
            for q in 1..4 {
                let y = top * f64::from(q) / 4.0;
                let _ = chart.draw_series(LineSeries::new(
                    [(x0, y), (x1, y)],
                    RGBColor(230, 234, 238).stroke_width(1),
                ));
            }
            for line in lines {
                let (r, g, b) = PALETTE[line.color % PALETTE.len()];
                let style = RGBColor(r, g, b).stroke_width(2);
                let pts = line
                    .points
                    .iter()
                    .filter(|p| p.1.is_finite())
                    .map(|p| (p.0, p.1.min(top)));
                if line.dashed {
                    let _ = chart.draw_series(DashedLineSeries::new(pts, 6, 4, style));
                } else {
                    let _ = chart.draw_series(LineSeries::new(pts, style));
                }
            }
        }
        let _ = root.present();
    }
    svg
}

/// Margin around the plotting area, in pixels, of every chart here.
const MARGIN: u32 = 4;

/// One dot of a scatter plot: x (e.g. unix seconds), y (e.g. milliseconds), and whether it
/// is an error (drawn red and larger).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub error: bool,
}

/// Where a value lands in a chart of `width` × `height` over `[x0, x1]` × `[0, top]`, as
/// percentages of the chart box from its left and top edge: HTML overlays (links on dots)
/// line up with the SVG at any rendered size.
pub fn position(x: f64, y: f64, x0: f64, x1: f64, top: f64, width: u32, height: u32) -> (f64, f64) {
    let (w, h, m) = (f64::from(width), f64::from(height), f64::from(MARGIN));
    let span = if x1 > x0 { x1 - x0 } else { 1.0 };
    let top = top.max(f64::MIN_POSITIVE);
    // Plotters maps a range onto the pixels `MARGIN ..= size - MARGIN - 1`.
    let px = m + (x - x0) / span * (w - 2.0 * m - 1.0);
    let py = m + (1.0 - y.clamp(0.0, top) / top) * (h - 2.0 * m - 1.0);
    (px / w * 100.0, py / h * 100.0)
}

/// Renders dots over `[x0, x1]` × `[0, top]` as SVG: successes blue, errors red.
pub fn scatter_chart(dots: &[Dot], x0: f64, x1: f64, top: f64, width: u32, height: u32) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let top = top.max(f64::MIN_POSITIVE);
        let built = ChartBuilder::on(&root)
            .margin(MARGIN)
            .build_cartesian_2d(x0..x1, 0.0..top);
        if let Ok(mut chart) = built {
            for q in 1..4 {
                let y = top * f64::from(q) / 4.0;
                let _ = chart.draw_series(LineSeries::new(
                    [(x0, y), (x1, y)],
                    RGBColor(230, 234, 238).stroke_width(1),
                ));
            }
            let (r, g, b) = PALETTE[0];
            let ok = RGBColor(r, g, b).mix(0.7).filled();
            let (r, g, b) = PALETTE[4];
            let bad = RGBColor(r, g, b).filled();
            let _ = chart.draw_series(
                dots.iter()
                    .filter(|d| !d.error && d.y.is_finite())
                    .map(|d| Circle::new((d.x, d.y.min(top)), 4, ok)),
            );
            let _ = chart.draw_series(
                dots.iter()
                    .filter(|d| d.error && d.y.is_finite())
                    .map(|d| Circle::new((d.x, d.y.min(top)), 5, bad)),
            );
        }
        let _ = root.present();
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_polyline_per_series_in_its_version_colour() {
        let v1 = [(0.0, 1.0), (10.0, 1.5), (20.0, 1.2)];
        let v2 = [(0.0, 0.5), (10.0, 0.4), (20.0, f64::NAN)];
        let lines = [
            Line {
                points: &v1,
                color: 0,
                dashed: false,
            },
            Line {
                points: &v2,
                color: 1,
                dashed: false,
            },
        ];
        let top = y_top(&lines, 1.0);
        assert!((top - 1.65).abs() < 1e-9);
        let svg = line_chart(&lines, 0.0, 20.0, top, 300, 120);
        assert!(svg.starts_with("<svg"), "{svg}");
        // Grid lines are polylines too: pick series by their stroke colour.
        let blue = svg.matches("stroke=\"#2A7DE1\"").count();
        let orange = svg.matches("stroke=\"#E67E22\"").count();
        assert_eq!((blue, orange), (1, 1), "{svg}");
        assert!(!svg.contains("<text"), "no text: labels are HTML");
    }

    #[test]
    fn an_empty_chart_is_still_valid_svg() {
        let svg = line_chart(&[], 0.0, 0.0, y_top(&[], 1.0), 100, 50);
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn scatter_dots_are_circles_coloured_by_outcome_and_positions_match() {
        let dots = [
            Dot {
                x: 0.0,
                y: 10.0,
                error: false,
            },
            Dot {
                x: 5.0,
                y: 40.0,
                error: true,
            },
            Dot {
                x: 10.0,
                y: 20.0,
                error: false,
            },
        ];
        let svg = scatter_chart(&dots, 0.0, 10.0, 40.0, 200, 100);
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert_eq!(
            svg.matches("fill=\"#CC3D3D\"").count(),
            1,
            "one red error dot: {svg}"
        );
        // Every circle is within a pixel of where `position` puts its overlay.
        let centres: Vec<(f64, f64)> = svg
            .lines()
            .filter(|l| l.starts_with("<circle"))
            .map(|l| {
                let attr = |name: &str| -> f64 {
                    let rest = &l[l.find(&format!("{name}=\"")).unwrap() + name.len() + 2..];
                    rest[..rest.find('"').unwrap()].parse().unwrap()
                };
                (attr("cx"), attr("cy"))
            })
            .collect();
        let mut expected: Vec<(f64, f64)> = [dots[0], dots[2], dots[1]]
            .iter()
            .map(|d| {
                let (l, t) = position(d.x, d.y, 0.0, 10.0, 40.0, 200, 100);
                (l * 2.0, t)
            })
            .collect();
        for (c, e) in centres.iter().zip(expected.drain(..)) {
            assert!(
                (c.0 - e.0).abs() <= 1.0 && (c.1 - e.1).abs() <= 1.0,
                "{c:?} vs {e:?}"
            );
        }
        assert_eq!(centres.len(), 3);
    }
}
