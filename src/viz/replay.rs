//! The filters replayed: a training run's snapshots as one self-contained
//! piece of HTML, with a slider, play/pause and each filter's nearest classic
//! kernel, for a notebook (evcxr shows a cell's output only when the cell
//! ends, and cannot update it) or a file to open in a browser.
//!
//! Nothing in it is fetched: the frames are a JSON block, the script is
//! `replay.js` beside this file (linted with the page's code), and the same frames as a
//! GIF sit in an `<img>` that the script replaces. Where scripts do not run
//! (GitHub's notebook view, an untrusted notebook) the GIF stays.

use super::*;
use crate::analysis::nearest_classic;

/// The script that draws the replay (`replay.js`, linted by `npm run lint`
/// in web/ with the page's rules).
const SCRIPT: &str = include_str!("replay.js");

/// Filters at least this like a classic kernel are named in black.
const CLOSE: f64 = 0.8;

/// A replay of the filters during training (see [`filter_replay`]).
#[derive(Debug, Clone)]
pub struct Replay {
    html: String,
    gif: Animation,
}

impl Replay {
    /// The HTML fragment: a `<div>` with the frames, the script and the GIF.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// The GIF of the same frames, shown where scripts do not run.
    pub fn animation(&self) -> &Animation {
        &self.gif
    }

    /// A whole HTML page holding the replay, to open in a browser.
    pub fn page(&self) -> String {
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>First-layer filters during training</title></head>\n<body>\n{}\n</body>\n</html>\n",
            self.html
        )
    }

    /// Writes [`Replay::page`] to `path`, atomically.
    pub fn save_html(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomic(path, self.page().as_bytes())
    }

    /// Shows the replay in an evcxr notebook, as HTML (the GIF inside it).
    /// evcxr keeps one form of an output, so the GIF is not sent beside it.
    pub fn evcxr_display(&self) {
        super::evcxr_send_text("text/html", &self.html);
    }
}

/// Every snapshot of a run as a frame of a replay: the filters on one
/// colour scale (as [`filter_animation`]), labelled "epoch N" or "step N",
/// with each filter's nearest classic kernel and its centred cosine
/// ([`crate::analysis::nearest_classic`]).
pub fn filter_replay(snapshots: &[Snapshot], steps_per_epoch: usize) -> Result<Replay> {
    let delay_ms = 400;
    let gif = filter_animation(snapshots, steps_per_epoch, delay_ms)?;
    let kernels: Vec<&str> = CLASSIC.iter().map(|k| k.name).collect();
    let frames = snapshots
        .iter()
        .map(|s| {
            let nearest: Vec<(usize, f64)> = nearest_classic(&s.tensor()?)?
                .iter()
                .map(|m| {
                    let index = kernels.iter().position(|&k| k == m.kernel.name);
                    (index.unwrap_or(0), rounded(m.score, 1e3))
                })
                .collect();
            Ok(serde_json::json!({
                "label": s.label(steps_per_epoch),
                "values": s.filters.iter().map(|&v| rounded(v, 1e4)).collect::<Vec<f64>>(),
                "nearest": nearest,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let all: Vec<f32> = snapshots
        .iter()
        .flat_map(|s| s.filters.iter().copied())
        .collect();
    let data = serde_json::json!({
        "filters": snapshots.first().map_or(0, |s| s.filters.len() / 9),
        "scale": rounded(largest_abs(&all), 1e4),
        "kernels": kernels,
        "close": CLOSE,
        "delay_ms": delay_ms,
        "frames": frames,
    });
    // Nothing in the data may close the script element that holds it.
    let data = data.to_string().replace("</", "<\\/");
    let id = format!("faw-replay-{:016x}", fingerprint(data.as_bytes()));
    let html = format!(
        "<div id=\"{id}\" class=\"faw-replay\">\n\
         <div style=\"font:16px sans-serif;margin:4px 0\">First-layer filters during training</div>\n\
         <img alt=\"the first-layer filters during training, animated\" src=\"data:image/gif;base64,{}\">\n\
         <script type=\"application/json\">{data}</script>\n\
         <script>\n{SCRIPT}\nfawReplay(document.getElementById(\"{id}\"));\n</script>\n\
         </div>",
        base64(gif.gif_bytes())
    );
    Ok(Replay { html, gif })
}

/// `v` to the nearest `1 / per`, as the short decimal JSON writes (a 0.1
/// of float32 is 0.10000000149011612 once widened).
fn rounded(v: f32, per: f64) -> f64 {
    (v as f64 * per).round() / per
}

/// A 64-bit FNV-1a hash: an id that differs between replays on one page.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshots() -> Vec<Snapshot> {
        (0..3)
            .map(|e| Snapshot {
                epoch: e,
                step: 10 * e,
                filters: (0..32 * 9)
                    .map(|i| ((i + e) % 7) as f32 / 7.0 - 0.4)
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn the_replay_holds_every_frame_the_script_and_the_gif_and_fetches_nothing() {
        let replay = filter_replay(&snapshots(), 10).unwrap();
        let html = replay.html();
        let json = html
            .split("<script type=\"application/json\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(json).unwrap();
        let frames = data["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[2]["label"], "epoch 2");
        assert_eq!(frames[0]["values"].as_array().unwrap().len(), 32 * 9);
        assert_eq!(frames[0]["nearest"].as_array().unwrap().len(), 32);
        assert_eq!(data["kernels"].as_array().unwrap().len(), CLASSIC.len());
        assert!(
            html.contains("data:image/gif;base64,R0lGOD"),
            "the GIF, inline"
        );
        assert!(html.contains("function fawReplay(root)"));
        for remote in ["http:", "https:", "src=\"//", "<link"] {
            assert!(!html.contains(remote), "{remote}");
        }
        let page = replay.page();
        assert!(page.starts_with("<!doctype html>") && page.contains(html));
        // Another run, another id.
        let mut other = snapshots();
        other[0].filters[0] = 0.3;
        assert_ne!(
            html.split('"').nth(1),
            filter_replay(&other, 10).unwrap().html().split('"').nth(1)
        );
    }
}
