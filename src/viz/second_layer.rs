//! What the second layer sees ([`crate::second_layer`]): each conv2
//! channel's top patches, and pictures optimised to drive a class or a
//! channel.

use super::{draw_gray, enlarge, render, text, Figure};
use crate::error::Result;
use crate::second_layer::{ChannelPatches, RECEPTIVE_FIELD};
use candle_core::Tensor;
use image::GrayImage;

/// Values in 0..1, row by row, as a `side × side` gray picture.
fn gray(values: &[f32], side: u32) -> GrayImage {
    let pixels = values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    GrayImage::from_raw(side, side, pixels).expect("side × side values")
}

/// For each conv2 channel (a block each, 8 to a row): its mean top patch,
/// large, and its first nine top patches, small, each the 5×5 pixels the
/// channel's strongest answer in one test image saw.
pub fn top_patches(channels: &[ChannelPatches], title: &str) -> Result<Figure> {
    let side = RECEPTIVE_FIELD as u32;
    let (big, small, gap, label) = (45i32, 20i32, 2i32, 16i32);
    let block_w = big + 6 + 3 * (small + gap);
    let block_h = label + (3 * (small + gap)).max(big);
    let (cols, margin, top) = (8i32, 12i32, 34i32);
    let rows = (channels.len() as i32 + cols - 1) / cols;
    let width = cols * (block_w + margin) + margin;
    let height = top + rows * (block_h + margin) + margin;
    render(width as u32, height as u32, |area| {
        text(area, title, (margin, 8), 18)?;
        for (i, ch) in channels.iter().enumerate() {
            let (r, c) = (i as i32 / cols, i as i32 % cols);
            let (x, y) = (
                margin + c * (block_w + margin),
                top + r * (block_h + margin),
            );
            text(area, &format!("#{}", ch.channel), (x, y), 13)?;
            draw_gray(
                area,
                &enlarge(&gray(&ch.mean_patch(), side), big as u32),
                (x, y + label),
            )?;
            for (j, p) in ch.top.iter().take(9).enumerate() {
                let (pr, pc) = (j as i32 / 3, j as i32 % 3);
                let at = (
                    x + big + 6 + pc * (small + gap),
                    y + label + pr * (small + gap),
                );
                draw_gray(area, &enlarge(&gray(&p.patch, side), small as u32), at)?;
            }
        }
        Ok(())
    })
}

/// Pictures `[1, 1, 28, 28]` (0..1), each with its caption, `columns` to
/// a row.
pub fn optimised_inputs(
    pictures: &[(String, Tensor)],
    title: &str,
    columns: usize,
) -> Result<Figure> {
    let (cell, label, margin, top) = (84i32, 18i32, 10i32, 34i32);
    let cols = columns.max(1) as i32;
    let rows = (pictures.len() as i32 + cols - 1) / cols;
    let width = cols.min(pictures.len() as i32) * (cell + margin) + margin;
    let height = top + rows * (cell + label + margin) + margin;
    let images = pictures
        .iter()
        .map(|(_, x)| picture(x))
        .collect::<Result<Vec<_>>>()?;
    let width = width.max(super::text_width(title, 18) + 2 * margin);
    render(width as u32, height as u32, |area| {
        text(area, title, (margin, 8), 18)?;
        for (i, ((caption, _), img)) in pictures.iter().zip(&images).enumerate() {
            let (r, c) = (i as i32 / cols, i as i32 % cols);
            let (x, y) = (
                margin + c * (cell + margin),
                top + r * (cell + label + margin),
            );
            text(area, caption, (x, y), 13)?;
            draw_gray(area, &enlarge(img, cell as u32), (x, y + label))?;
        }
        Ok(())
    })
}

/// A picture `[1, 1, 28, 28]` (0..1) as a 28×28 gray image.
fn picture(x: &Tensor) -> Result<GrayImage> {
    Ok(gray(&x.flatten_all()?.to_vec1::<f32>()?, 28))
}

/// One row of [`over_training`]: a label ("after 7 epochs"), each
/// channel's mean top patch (25 values), and the pictures optimised for
/// the classes with their captions.
pub type TrainingRow = (String, Vec<Vec<f32>>, Vec<(String, Tensor)>);

/// The second layer as training goes on, a row an epoch: each conv2
/// channel's mean top patch (4 rows of 16), then the input each class's
/// score likes most.
pub fn over_training(rows: &[TrainingRow], title: &str) -> Result<Figure> {
    let side = RECEPTIVE_FIELD as u32;
    let (tile, gap, margin, top, label) = (20i32, 2i32, 12i32, 34i32, 20i32);
    let (per_row, cell) = (16i32, 64i32);
    let patches_w = per_row * (tile + gap);
    let channels = rows.iter().map(|r| r.1.len()).max().unwrap_or(0) as i32;
    let patches_h = (channels + per_row - 1) / per_row * (tile + gap);
    let classes = rows.iter().map(|r| r.2.len()).max().unwrap_or(0) as i32;
    let row_h = label + 16 + patches_h.max(cell);
    let width = margin + patches_w + 2 * margin + classes * (cell + gap + 4) + margin;
    let width = width.max(super::text_width(title, 18) + 2 * margin);
    let height = top + rows.len() as i32 * (row_h + margin) + margin;
    render(width as u32, height as u32, |area| {
        text(area, title, (margin, 8), 18)?;
        for (i, (name, patches, pictures)) in rows.iter().enumerate() {
            let y = top + i as i32 * (row_h + margin);
            text(area, name, (margin, y), 15)?;
            let y = y + label;
            text(area, "each channel's mean top patch", (margin, y), 12)?;
            for (j, p) in patches.iter().enumerate() {
                let (r, c) = (j as i32 / per_row, j as i32 % per_row);
                let at = (margin + c * (tile + gap), y + 16 + r * (tile + gap));
                draw_gray(area, &enlarge(&gray(p, side), tile as u32), at)?;
            }
            let x0 = margin + patches_w + 2 * margin;
            for (j, (caption, t)) in pictures.iter().enumerate() {
                let x = x0 + j as i32 * (cell + gap + 4);
                text(area, caption, (x, y), 12)?;
                draw_gray(area, &enlarge(&picture(t)?, cell as u32), (x, y + 16))?;
            }
        }
        Ok(())
    })
}

/// Each channel of network `b` beside the channel of network `a` most like
/// it (mean top patches, 25 values each; `matches` from
/// [`crate::second_layer::best_matches`]`(b, a)`), best matched first,
/// with their centred cosine: does `b`'s second layer see what `a`'s does?
pub fn channel_pairs(
    a: &[Vec<f32>],
    b: &[Vec<f32>],
    matches: &[(usize, f32)],
    names: (&str, &str),
    title: &str,
) -> Result<Figure> {
    let side = RECEPTIVE_FIELD as u32;
    let (tile, gap, margin, top, label) = (32i32, 3i32, 12i32, 56i32, 15i32);
    let cols = 8i32;
    let block_w = 2 * tile + gap + 22;
    let block_h = label + tile + 8;
    let mut order: Vec<usize> = (0..b.len()).collect();
    order.sort_by(|&i, &j| matches[j].1.total_cmp(&matches[i].1).then(i.cmp(&j)));
    let rows = (order.len() as i32 + cols - 1) / cols;
    let key = format!(
        "In each pair: left, a channel of {}; right, the channel of {} most like it; above, their centred cosine.",
        names.1, names.0
    );
    let width = (cols * block_w + 2 * margin)
        .max(super::text_width(title, 18) + 2 * margin)
        .max(super::text_width(&key, 13) + 4 * margin);
    let height = top + rows * block_h + margin;
    render(width as u32, height as u32, |area| {
        text(area, title, (margin, 8), 18)?;
        text(area, &key, (margin, 32), 13)?;
        for (k, &i) in order.iter().enumerate() {
            let (r, c) = (k as i32 / cols, k as i32 % cols);
            let (x, y) = (margin + c * block_w, top + r * block_h);
            let (j, cosine) = matches[i];
            text(area, &format!("{cosine:+.2}"), (x, y), 12)?;
            draw_gray(
                area,
                &enlarge(&gray(&b[i], side), tile as u32),
                (x, y + label),
            )?;
            let right = x + tile + gap;
            draw_gray(
                area,
                &enlarge(&gray(&a[j], side), tile as u32),
                (right, y + label),
            )?;
        }
        Ok(())
    })
}
