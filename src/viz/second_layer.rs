//! What the second layer sees ([`crate::second_layer`]): each conv2
//! channel's top patches, and pictures optimised to drive a class or a
//! channel.

use super::{draw_gray, enlarge, plot_err, render, Figure};
use crate::error::Result;
use crate::second_layer::{ChannelPatches, RECEPTIVE_FIELD};
use candle_core::Tensor;
use image::GrayImage;
use plotters::prelude::*;

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
        area.draw_text(
            title,
            &("sans-serif", 18).into_font().color(&BLACK),
            (margin, 8),
        )
        .map_err(plot_err)?;
        for (i, ch) in channels.iter().enumerate() {
            let (r, c) = (i as i32 / cols, i as i32 % cols);
            let (x, y) = (
                margin + c * (block_w + margin),
                top + r * (block_h + margin),
            );
            area.draw_text(
                &format!("#{}", ch.channel),
                &("sans-serif", 13).into_font().color(&BLACK),
                (x, y),
            )
            .map_err(plot_err)?;
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

/// Pictures `[1, 1, 28, 28]` (0..1), each with its caption, 10 to a row.
pub fn optimised_inputs(pictures: &[(String, Tensor)], title: &str) -> Result<Figure> {
    let (cell, label, margin, top, cols) = (84i32, 18i32, 10i32, 34i32, 10i32);
    let rows = (pictures.len() as i32 + cols - 1) / cols;
    let width = cols.min(pictures.len() as i32) * (cell + margin) + margin;
    let height = top + rows * (cell + label + margin) + margin;
    let images = pictures
        .iter()
        .map(|(_, x)| Ok(gray(&x.flatten_all()?.to_vec1::<f32>()?, 28)))
        .collect::<Result<Vec<_>>>()?;
    render(width.max(320) as u32, height as u32, |area| {
        area.draw_text(
            title,
            &("sans-serif", 18).into_font().color(&BLACK),
            (margin, 8),
        )
        .map_err(plot_err)?;
        for (i, ((caption, _), img)) in pictures.iter().zip(&images).enumerate() {
            let (r, c) = (i as i32 / cols, i as i32 % cols);
            let (x, y) = (
                margin + c * (cell + margin),
                top + r * (cell + label + margin),
            );
            area.draw_text(
                caption,
                &("sans-serif", 13).into_font().color(&BLACK),
                (x, y),
            )
            .map_err(plot_err)?;
            draw_gray(area, &enlarge(img, cell as u32), (x, y + label))?;
        }
        Ok(())
    })
}
