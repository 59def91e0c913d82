//! `chart.svg`: a hand-written bar chart, one panel per case, a bar per server (median, with
//! min-max whiskers and the ratio to ours).

use std::fmt::Write as _;

use super::super::OURS;
use super::format::{short, thousands};
use super::{Report, Summary};

impl Report<'_> {
    pub(super) fn svg(&self, summaries: &[Summary]) -> String {
        const COLORS: [&str; 5] = ["#d9480f", "#1c7ed6", "#37b24d", "#7048e8", "#868e96"];
        const PANEL_W: f64 = 250.0;
        const PANEL_H: f64 = 210.0;
        const COLS: usize = 4;
        const TOP: f64 = 78.0;
        let rows = self.cases.len().div_ceil(COLS).max(1);
        let width = PANEL_W * COLS as f64 + 20.0;
        let height = TOP + PANEL_H * rows as f64 + 10.0;
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">sockudo-ws echo \
             benchmark: messages per second (median; whiskers min-max){}</text>\n\
             <text x=\"10\" y=\"37\" fill=\"#555\">{} - {} - {}</text>\n",
            if self.quick {
                " - SMOKE RUN, not results"
            } else {
                ""
            },
            esc(&self.machine.date),
            esc(&self.machine.describe()),
            esc(self.settings)
        );
        let mut x = 10.0;
        for (i, s) in self.servers.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"48\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"58\">{}</text>",
                COLORS[i % COLORS.len()],
                x + 16.0,
                esc(s.name)
            );
            x += 30.0 + 7.0 * s.name.len() as f64;
        }
        for (ci, case) in self.cases.iter().enumerate() {
            let px = 10.0 + (ci % COLS) as f64 * PANEL_W;
            let py = TOP + (ci / COLS) as f64 * PANEL_H;
            let (plot_top, plot_bottom) = (py + 38.0, py + PANEL_H - 22.0);
            let in_case: Vec<&Summary> = summaries
                .iter()
                .filter(|s| s.case.name == case.name)
                .collect();
            let top = in_case
                .iter()
                .filter(|s| s.rounds > 0)
                .map(|s| s.max)
                .fold(0.0, f64::max);
            let _ = write!(
                svg,
                "<rect x=\"{px}\" y=\"{py}\" width=\"{}\" height=\"{}\" fill=\"none\" \
                 stroke=\"#ddd\"/>\n<text x=\"{}\" y=\"{}\" font-weight=\"bold\">{}</text>\n\
                 <line x1=\"{}\" y1=\"{plot_bottom}\" x2=\"{}\" y2=\"{plot_bottom}\" \
                 stroke=\"#888\"/>\n",
                PANEL_W - 10.0,
                PANEL_H - 10.0,
                px + 8.0,
                py + 16.0,
                esc(case.name),
                px + 8.0,
                px + PANEL_W - 18.0
            );
            let slot = (PANEL_W - 30.0) / self.servers.len().max(1) as f64;
            let scale = |v: f64| {
                if top > 0.0 {
                    (plot_bottom - plot_top) * v / top
                } else {
                    0.0
                }
            };
            for (si, server) in self.servers.iter().enumerate() {
                let bx = px + 12.0 + si as f64 * slot;
                let cx = bx + slot * 0.4;
                let Some(s) = in_case.iter().find(|s| s.server.name == server.name) else {
                    continue;
                };
                if s.rounds == 0 {
                    let _ = writeln!(
                        svg,
                        "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" fill=\"#999\">n/a</text>",
                        plot_bottom - 4.0
                    );
                    continue;
                }
                let h = scale(s.median);
                let _ = write!(
                    svg,
                    "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" \
                     fill=\"{}\"><title>{}: {} msg/s (min {}, max {})</title></rect>\n\
                     <line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" \
                     stroke=\"#222\"/>\n\
                     <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                     font-size=\"10\">{}</text>\n",
                    plot_bottom - h,
                    slot * 0.8,
                    COLORS[si % COLORS.len()],
                    esc(server.name),
                    thousands(s.median),
                    thousands(s.min),
                    thousands(s.max),
                    plot_bottom - scale(s.min),
                    plot_bottom - scale(s.max),
                    plot_bottom - scale(s.max) - 4.0,
                    short(s.median)
                );
                if let Some(r) = s.ratio.filter(|_| server.name != OURS) {
                    let _ = writeln!(
                        svg,
                        "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" \
                         font-size=\"10\" fill=\"#555\">{r:.2}x</text>",
                        plot_bottom + 13.0
                    );
                }
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}
