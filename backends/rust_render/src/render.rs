//! Stages 2-5 of contract/SEMANTICS.md: modality LUT, VOI LUT, presentation, overlays,
//! and the colour paths (RGB, YBR_FULL, PALETTE COLOR). All arithmetic in f64.

use crate::dicom::{tag, DataSet, DicomFile};
use crate::error::{Error, Result};
use crate::options::{Options, OverlayValue, Overlays};
use crate::pixels::{self, ImageInfo, RawFrame};
use serde_json::{json, Value as J};

/// A rendered frame: samples in [0, ymax], gray (channels 1) or RGB (channels 3).
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub bit_depth: u32,
    pub data: Vec<u16>,
}

pub struct Rendered {
    pub image: Image,
    pub voi: J,
    pub modality: Option<&'static str>,
    pub inverted: bool,
    pub overlays: Vec<u8>,
}

/// A LUT from its descriptor (C.11.1.1): `n` entries (0 = 65536), first mapped value, bits per entry.
#[derive(Debug, Clone)]
pub struct Lut {
    pub first: i64,
    pub bits: u32,
    pub data: Vec<i64>,
}

/// Round half up and clip: the contract's rule `floor(y + 0.5)` in `[0, ymax]`.
#[inline]
pub fn quantize(y: f64, ymax: f64) -> u16 {
    let v = (y + 0.5).floor();
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= ymax {
        ymax as u16
    } else {
        v as u16
    }
}

pub fn lut_lookup(x: i64, lut: &Lut) -> i64 {
    let n = lut.data.len() as i64;
    let i = (x - lut.first).clamp(0, n - 1);
    lut.data[i as usize]
}

/// Read a LUT item (Modality / VOI LUT Sequence, palette): descriptor + data, 8-bit entries possibly byte-packed.
pub fn read_lut(item: &DataSet, desc_tag: u32, data_tag: u32, signed_first: bool) -> Option<Lut> {
    let desc = item.u16s(desc_tag)?;
    if desc.len() < 3 {
        return None;
    }
    let n = if desc[0] == 0 { 65536 } else { desc[0] as usize };
    let mut first = desc[1] as i64;
    if signed_first && first >= 32768 {
        first -= 65536;
    }
    let bits = desc[2] as u32;
    let el = item.get(data_tag)?;
    let raw = match &el.value {
        crate::dicom::Value::Bytes(b) => b,
        _ => return None,
    };
    let mut data: Vec<i64> = if bits == 8 && (raw.len() == n || raw.len() == n + 1 || raw.len() == n + n % 2) {
        // 8-bit entries byte-packed two per OW word, first entry in the low byte: in a big-endian
        // file each word's bytes are swapped, so the entries come in pairs (1, 0), (3, 2), ...
        let take = raw.len().min(n + n % 2);
        let mut v: Vec<i64> = if item.big_endian {
            (0..take - take % 2).map(|i| raw[i ^ 1] as i64).collect()
        } else {
            raw[..take].iter().map(|&b| b as i64).collect()
        };
        v.truncate(n);
        v
    } else if &el.vr == b"SS" {
        raw.chunks_exact(2).map(|c| item.rd_u16(c) as i16 as i64).collect()
    } else {
        let words: Vec<i64> = raw.chunks_exact(2).map(|c| item.rd_u16(c) as i64).collect();
        if bits == 8 && words.len() < n && words.len() * 2 >= n {
            // two 8-bit entries per 16-bit word, the first in the low byte
            words.iter().flat_map(|&w| [w & 0xFF, w >> 8]).collect()
        } else {
            words
        }
    };
    if data.len() < n {
        let last = data.last().copied().unwrap_or(0);
        data.resize(n, last);
    }
    data.truncate(n);
    Some(Lut { first, bits, data })
}

// ---- VOI window functions (C.11.2.1.2.1, C.11.2.1.3) ----

pub fn window_linear(x: f64, c: f64, w: f64, ymax: f64) -> f64 {
    let lo = c - 0.5 - (w - 1.0) / 2.0;
    let hi = c - 0.5 + (w - 1.0) / 2.0;
    if w <= 1.0 {
        return if x <= lo { 0.0 } else { ymax };
    }
    if x <= lo {
        0.0
    } else if x > hi {
        ymax
    } else {
        ((x - (c - 0.5)) / (w - 1.0) + 0.5) * ymax
    }
}

pub fn window_linear_exact(x: f64, c: f64, w: f64, ymax: f64) -> f64 {
    if x <= c - w / 2.0 {
        0.0
    } else if x > c + w / 2.0 {
        ymax
    } else {
        ((x - c) / w + 0.5) * ymax
    }
}

pub fn window_sigmoid(x: f64, c: f64, w: f64, ymax: f64) -> f64 {
    ymax / (1.0 + (-4.0 * (x - c) / w).exp())
}

pub fn window(x: f64, c: f64, w: f64, f: &str, ymax: f64) -> f64 {
    match f {
        "linear_exact" => window_linear_exact(x, c, w, ymax),
        "sigmoid" => window_sigmoid(x, c, w, ymax),
        _ => window_linear(x, c, w, ymax),
    }
}

pub fn linear_range(x: f64, lo: f64, hi: f64, ymax: f64) -> f64 {
    if hi <= lo {
        return 0.0;
    }
    ((x - lo) / (hi - lo) * ymax).clamp(0.0, ymax)
}

/// Bits per entry actually used by a VOI LUT: the descriptor's, unless the largest entry needs fewer.
pub fn lut_bits(lut: &Lut) -> u32 {
    let top = lut.data.iter().copied().max().unwrap_or(0).max(0) as u64;
    let used = (64 - top.leading_zeros()).max(1);
    if lut.bits > 8 {
        lut.bits.min(used)
    } else {
        lut.bits
    }
}

pub fn function_name(v: Option<String>) -> &'static str {
    match v.unwrap_or_default().trim().to_uppercase().as_str() {
        "LINEAR_EXACT" => "linear_exact",
        "SIGMOID" => "sigmoid",
        _ => "linear",
    }
}

// ---- Modality stage ----

pub enum Modality {
    Identity,
    Disabled,
    Rescale(f64, f64),
    Lut(Lut),
}

/// Rescale Slope/Intercept of a frame, in python_ref's order (backends/python_ref/modality.py):
/// the Pixel Value Transformation of the per-frame functional group, else of the shared one, else the
/// top-level attributes.
fn rescale_params(ds: &DataSet, frame: usize) -> Option<(f64, f64)> {
    let (s, i) = (tag(0x0028, 0x1053), tag(0x0028, 0x1052));
    for (seq_tag, index) in [(tag(0x5200, 0x9230), frame), (tag(0x5200, 0x9229), 0)] {
        if let Some(seq) = ds.seq(seq_tag) {
            if let Some(item) = seq.get(index) {
                if let Some(pvt) = item.seq(tag(0x0028, 0x9145)) {
                    if let Some(p) = pvt.first() {
                        return Some((p.f64(s).unwrap_or(1.0), p.f64(i).unwrap_or(0.0)));
                    }
                }
            }
        }
    }
    if ds.contains(s) || ds.contains(i) {
        return Some((ds.f64(s).unwrap_or(1.0), ds.f64(i).unwrap_or(0.0)));
    }
    None
}

/// `m*x + b` as python_ref computes it: the multiplication skipped when m is 1, the addition when b is 0
/// (so -0.0 stays -0.0, exactly like numpy's in-place `*=` / `+=`).
#[inline]
pub fn rescale(x: f64, m: f64, b: f64) -> f64 {
    let y = if m != 1.0 { x * m } else { x };
    if b != 0.0 {
        y + b
    } else {
        y
    }
}

/// The Modality LUT stage of a frame for the ops (stats, histogram): like `modality`, but a Modality
/// LUT Sequence item without a usable descriptor/data is `decode_failed` (as in python_ref), not skipped.
pub fn modality_stage(ds: &DataSet, info: &ImageInfo, frame: usize, enabled: bool) -> Result<Modality> {
    if enabled && modality_lut_item(ds).is_some() {
        if let Modality::Lut(l) = modality(ds, info, frame, true) {
            return Ok(Modality::Lut(l));
        }
        return Err(Error::decode("invalid lookup table: the Modality LUT Sequence item has no usable descriptor/data").with_field("input"));
    }
    Ok(modality(ds, info, frame, enabled))
}

fn modality_lut_item(ds: &DataSet) -> Option<&DataSet> {
    ds.seq(tag(0x0028, 0x3000)).and_then(|s| s.first())
}

fn modality(ds: &DataSet, info: &ImageInfo, frame: usize, enabled: bool) -> Modality {
    if !enabled {
        return Modality::Disabled;
    }
    if let Some(item) = modality_lut_item(ds) {
        if let Some(l) = read_lut(item, tag(0x0028, 0x3002), tag(0x0028, 0x3006), info.signed) {
            return Modality::Lut(l);
        }
    }
    match rescale_params(ds, frame) {
        Some((m, b)) => Modality::Rescale(m, b),
        None => Modality::Identity,
    }
}

fn theoretical_range(ds: &DataSet, info: &ImageInfo, frame: usize, enabled: bool) -> (f64, f64) {
    let bits = info.bits_stored;
    let (lo, hi) = if info.signed {
        (-((1i64 << (bits - 1)) as f64), ((1i64 << (bits - 1)) - 1) as f64)
    } else {
        (0.0, ((1u64 << bits) - 1) as f64)
    };
    if !enabled {
        return (lo, hi);
    }
    if let Some(item) = modality_lut_item(ds) {
        if let Some(l) = read_lut(item, tag(0x0028, 0x3002), tag(0x0028, 0x3006), false) {
            return (0.0, ((1u64 << l.bits) - 1) as f64);
        }
    }
    if let Some((m, b)) = rescale_params(ds, frame) {
        let (a, c) = (lo * m + b, hi * m + b);
        return (a.min(c), a.max(c));
    }
    (lo, hi)
}

fn values(ds: &DataSet, t: u32) -> Vec<f64> {
    ds.f64s(t).unwrap_or_default()
}

fn first_text(ds: &DataSet, t: u32) -> Option<String> {
    ds.str(t).map(|s| s.split('\\').next().unwrap_or("").trim().to_string())
}

/// Stored windows (centres, widths) and VOI LUT Function of a frame: top level (VOI LUT module), else the
/// Frame VOI LUT Sequence of the per-frame, then the shared functional groups (enhanced objects).
fn stored_voi(ds: &DataSet, frame: usize) -> (Vec<f64>, Vec<f64>, &'static str) {
    let (wc, ww, f) = (tag(0x0028, 0x1050), tag(0x0028, 0x1051), tag(0x0028, 0x1056));
    let (c, w) = (values(ds, wc), values(ds, ww));
    if !c.is_empty() && !w.is_empty() {
        return (c, w, function_name(first_text(ds, f)));
    }
    for (seq_tag, index) in [(tag(0x5200, 0x9230), frame), (tag(0x5200, 0x9229), 0)] {
        let item = match ds.seq(seq_tag).and_then(|s| s.get(index)) {
            Some(i) => i,
            None => continue,
        };
        if let Some(fv) = item.seq(tag(0x0028, 0x9132)).and_then(|s| s.first()) {
            let (c, w) = (values(fv, wc), values(fv, ww));
            if !c.is_empty() && !w.is_empty() {
                return (c, w, function_name(first_text(fv, f)));
            }
        }
    }
    (Vec::new(), Vec::new(), function_name(first_text(ds, f)))
}

fn is_colour(info: &ImageInfo) -> bool {
    info.spp > 1 || info.photometric == "PALETTE COLOR"
}

fn unsupported(name: &str, what: &str) -> Error {
    Error::option(name, format!("{} applies to grayscale images only; this image is colour", what))
}

fn check_colour_options(o: &Options) -> Result<()> {
    if o.window.is_some() {
        return Err(unsupported("window_center", "window_center"));
    }
    if o.voi_function.is_some() {
        return Err(unsupported("voi_function", "voi_function"));
    }
    if o.voi_index.is_some() {
        return Err(unsupported("voi_index", "voi_index"));
    }
    if o.voi != "auto" {
        return Err(unsupported("voi", "voi"));
    }
    if o.presentation != "auto" {
        return Err(unsupported("presentation", "presentation"));
    }
    if o.colormap.is_some() {
        return Err(unsupported("colormap", "colormap"));
    }
    if !o.modality_lut {
        return Err(unsupported("modality_lut", "modality_lut"));
    }
    Ok(())
}

/// Check the options against the image before any frame is decoded.
pub fn preflight(info: &ImageInfo, o: &Options) -> Result<()> {
    if is_colour(info) {
        check_colour_options(o)?;
    } else if let (Some(OverlayValue::Rgb(_)), None) = (&o.overlay_value, &o.colormap) {
        return Err(Error::option("overlay_value", "a colour overlay_value needs a colour image; give a gray level"));
    }
    Ok(())
}

pub fn render_frame(file: &DicomFile, info: &ImageInfo, frame: usize, o: &Options) -> Result<Rendered> {
    let ds = &file.ds;
    preflight(info, o)?;
    let raw = pixels::decode_frame(file, info, frame)?;
    if is_colour(info) {
        return render_colour(ds, info, frame, o, &raw);
    }
    let ymax = if o.bit_depth == 16 { 65535.0 } else { 255.0 };
    let n = info.rows * info.cols;
    let stored: Vec<i64> = raw.data[..n]
        .iter()
        .map(|&r| pixels::stored_value(r, info.bits_stored, info.high_bit, info.signed))
        .collect();
    let m = modality(ds, info, frame, o.modality_lut);
    let modality_name = match &m {
        Modality::Identity => "identity",
        Modality::Disabled => "disabled",
        Modality::Rescale(..) => "rescale",
        Modality::Lut(_) => "lut",
    };
    let x: Vec<f64> = match &m {
        Modality::Identity | Modality::Disabled => stored.iter().map(|&v| v as f64).collect(),
        Modality::Rescale(s, b) => stored.iter().map(|&v| rescale(v as f64, *s, *b)).collect(),
        Modality::Lut(l) => stored.iter().map(|&v| lut_lookup(v, l) as f64).collect(),
    };
    let (y, voi) = select_voi(&x, ds, info, frame, o, ymax)?;
    let invert = match o.presentation.as_str() {
        "identity" => false,
        "inverse" => true,
        _ => {
            info.photometric == "MONOCHROME1"
                || ds.str(tag(0x2050, 0x0020)).map(|s| s.to_uppercase() == "INVERSE").unwrap_or(false)
        }
    };
    let p_values = y.iter().map(|&v| if invert { ymax - v } else { v });
    let (mut data, channels, fill): (Vec<u16>, usize, Vec<u16>) = match &o.colormap {
        Some(name) => {
            let table = palette(name)?;
            let scale = if o.bit_depth == 16 { 257 } else { 1 };
            let mut out = Vec::with_capacity(n * 3);
            for p in p_values {
                let rgb = table[palette_index(p, ymax)];
                out.extend(rgb.iter().map(|&c| c as u16 * scale));
            }
            (out, 3, overlay_rgb(o, ymax).to_vec())
        }
        None => {
            let gray = match o.overlay_value {
                Some(OverlayValue::Gray(g)) => g as u16,
                _ => ymax as u16,
            };
            (p_values.map(|v| quantize(v, ymax)).collect(), 1, vec![gray])
        }
    };
    let shown = burn_overlays(ds, info, frame, o, &raw, &mut data, channels, &fill);
    Ok(Rendered {
        image: Image { width: info.cols, height: info.rows, channels, bit_depth: o.bit_depth, data },
        voi,
        modality: Some(modality_name),
        inverted: invert,
        overlays: shown,
    })
}

fn select_voi(x: &[f64], ds: &DataSet, info: &ImageInfo, frame: usize, o: &Options, ymax: f64) -> Result<(Vec<f64>, J)> {
    if let Some((c, w)) = o.window {
        let f = o.voi_function.clone().unwrap_or_else(|| "linear".into());
        let y = x.iter().map(|&v| window(v, c, w, &f, ymax)).collect();
        return Ok((y, json!({"source": "explicit", "center": c, "width": w, "function": f})));
    }
    let index = o.voi_index.unwrap_or(0);
    let luts = ds.seq(tag(0x0028, 0x3010)).unwrap_or(&[]);
    let (centers, widths, file_function) = stored_voi(ds, frame);
    let mut source = o.voi.as_str();
    if source == "auto" {
        source = if !luts.is_empty() {
            "lut"
        } else if !centers.is_empty() && !widths.is_empty() {
            "window"
        } else {
            "minmax"
        };
    }
    let field = if o.voi_index.is_some() { "options.voi_index" } else { "options.voi" };
    match source {
        "lut" => {
            if index >= luts.len() {
                return Err(Error::invalid(
                    field,
                    format!("VOI LUT {} requested but the file has {} VOI LUT(s)", index, luts.len()),
                ));
            }
            let lut = read_lut(&luts[index], tag(0x0028, 0x3002), tag(0x0028, 0x3006), info.signed)
                .ok_or_else(|| Error::decode("the VOI LUT item has no usable descriptor/data"))?;
            let bits = lut_bits(&lut);
            let scale = ymax / (((1u64 << bits) - 1) as f64);
            // modality values may be fractional (rescale): rounded half up to an index
            let y = x.iter().map(|&v| lut_lookup((v + 0.5).floor() as i64, &lut) as f64 * scale).collect();
            Ok((y, json!({"source": "lut", "index": index, "bits": bits})))
        }
        "window" => {
            let n = centers.len().min(widths.len());
            if index >= n {
                return Err(Error::invalid(field, format!("stored window {} requested but the file has {} window(s)", index, n)));
            }
            let c = centers[index];
            let mut w = widths[index];
            let f = o.voi_function.clone().unwrap_or_else(|| file_function.to_string());
            if f == "linear" && w < 1.0 {
                w = 1.0;
            }
            if w <= 0.0 {
                return Err(Error::decode(format!("the file's window width {} is not > 0", w)).with_field("input"));
            }
            let y = x.iter().map(|&v| window(v, c, w, &f, ymax)).collect();
            Ok((y, json!({"source": "window", "index": index, "center": c, "width": w, "function": f})))
        }
        "minmax" => {
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let y = x.iter().map(|&v| linear_range(v, lo, hi, ymax)).collect();
            Ok((y, json!({"source": "minmax", "min": lo, "max": hi})))
        }
        _ => {
            let (lo, hi) = theoretical_range(ds, info, frame, o.modality_lut);
            let y = x.iter().map(|&v| linear_range(v, lo, hi, ymax)).collect();
            Ok((y, json!({"source": "none", "min": lo, "max": hi})))
        }
    }
}

/// YBR_FULL -> RGB (ITU-T T.871, chroma offset 128), unrounded.
#[cfg(test)]
pub fn ybr_to_rgb(y: f64, cb: f64, cr: f64) -> [f64; 3] {
    ybr_to_rgb_offset(y, cb, cr, 128.0)
}

/// T.871 with chroma offset 2**(bits-1).
pub fn ybr_to_rgb_offset(y: f64, cb: f64, cr: f64, offset: f64) -> [f64; 3] {
    let (cb, cr) = (cb - offset, cr - offset);
    [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb]
}

/// Colour samples of `bits` bits onto [0, ymax]: `v * ymax / (2**bits - 1)` (identity when equal).
fn colour_scale(bits: u32, ymax: f64) -> f64 {
    let top = ((1u64 << bits.min(32)) - 1) as f64;
    if top == ymax {
        1.0
    } else {
        ymax / top
    }
}

fn render_colour(ds: &DataSet, info: &ImageInfo, frame: usize, o: &Options, raw: &RawFrame) -> Result<Rendered> {
    let n = info.rows * info.cols;
    let ymax = if o.bit_depth == 16 { 65535.0 } else { 255.0 };
    let mut data = vec![0u16; n * 3];
    let ph = raw.photometric.as_str();
    if info.photometric == "PALETTE COLOR" {
        let mut luts = Vec::new();
        for (d, l, seg) in [(0x1101u16, 0x1201u16, 0x1221u16), (0x1102, 0x1202, 0x1222), (0x1103, 0x1203, 0x1223)] {
            luts.push(palette_lut(ds, tag(0x0028, d), tag(0x0028, l), tag(0x0028, seg))?);
        }
        let bits = luts.iter().map(|l| l.bits).max().unwrap_or(8);
        let scale = colour_scale(bits, ymax);
        for i in 0..n {
            let idx = pixels::stored_value(raw.data[i * info.spp], info.bits_stored, info.high_bit, false);
            for c in 0..3 {
                data[i * 3 + c] = quantize(lut_lookup(idx, &luts[c]) as f64 * scale, ymax);
            }
        }
    } else if info.spp >= 3 {
        let spp = (raw.data.len() / n).max(3);
        let bits = info.bits_stored;
        let scale = colour_scale(bits, ymax);
        let offset = (1u64 << (bits - 1)) as f64;
        let ybr = ph == "YBR_FULL" || ph == "YBR_FULL_422";
        for i in 0..n {
            let s = &raw.data[i * spp..i * spp + 3];
            let v = |k: usize| pixels::stored_value(s[k], bits, info.high_bit, false) as f64;
            let (a, b, c) = (v(0), v(1), v(2));
            let rgb = if ybr { ybr_to_rgb_offset(a, b, c, offset) } else { [a, b, c] };
            for k in 0..3 {
                data[i * 3 + k] = quantize(rgb[k] * scale, ymax);
            }
        }
    } else {
        return Err(Error::decode(format!("{} samples per pixel with {} is not supported", info.spp, info.photometric)));
    }
    let value = overlay_rgb(o, ymax);
    let shown = burn_overlays(ds, info, frame, o, raw, &mut data, 3, &value);
    Ok(Rendered {
        image: Image { width: info.cols, height: info.rows, channels: 3, bit_depth: o.bit_depth, data },
        voi: J::Null,
        modality: None,
        inverted: false,
        overlays: shown,
    })
}

/// The overlay fill on colour output: `#rrggbb` (x257 at 16 bits), a gray level g as (g, g, g), default white.
fn overlay_rgb(o: &Options, ymax: f64) -> [u16; 3] {
    match o.overlay_value {
        Some(OverlayValue::Rgb(c)) => {
            let k = if o.bit_depth == 16 { 257 } else { 1 };
            [c[0] as u16 * k, c[1] as u16 * k, c[2] as u16 * k]
        }
        Some(OverlayValue::Gray(g)) => [g as u16; 3],
        None => [ymax as u16; 3],
    }
}

/// The entries of a well-known palette (PS3.6 Annex B) by its option name.
fn palette(name: &str) -> Result<&'static [[u8; 3]; 256]> {
    crate::palettes::PALETTES
        .iter()
        .find(|p| p.0 == name)
        .map(|p| &p.2)
        .ok_or_else(|| Error::option("colormap", format!("unknown palette {:?}", name)))
}

/// The Output LUT's index of a P-value on [0, ymax]: `floor(p * 255 / ymax + 0.5)`, clipped to 0..255.
#[inline]
pub fn palette_index(p: f64, ymax: f64) -> usize {
    let t = (p * (255.0 / ymax) + 0.5).floor();
    if t.is_nan() || t <= 0.0 {
        0
    } else if t >= 255.0 {
        255
    } else {
        t as usize
    }
}

/// A palette LUT: plain (0028,120x) or segmented (0028,122x) data expanded (C.7.9.2).
fn palette_lut(ds: &DataSet, desc_t: u32, data_t: u32, seg_t: u32) -> Result<Lut> {
    if ds.contains(data_t) {
        if let Some(mut l) = read_lut(ds, desc_t, data_t, false) {
            if l.bits == 8 && l.data.iter().any(|&v| v > 255) {
                l.data.iter_mut().for_each(|v| *v >>= 8); // 8-bit entries in the high byte of words
            }
            return Ok(l);
        }
    }
    let desc = ds.u16s(desc_t).filter(|d| d.len() >= 3).ok_or_else(|| Error::decode("palette descriptor missing"))?;
    let n = if desc[0] == 0 { 65536 } else { desc[0] as usize };
    let raw = ds.bytes(seg_t).ok_or_else(|| Error::decode("palette LUT data missing"))?;
    let words: Vec<u16> = if desc[2] == 8 {
        raw.iter().map(|&b| b as u16).collect() // 8-bit segmented data: one value per byte
    } else {
        raw.chunks_exact(2).map(|c| ds.rd_u16(c)).collect()
    };
    let mut data = expand_segmented(&words)?;
    if data.len() < n {
        let last = data.last().copied().unwrap_or(0);
        data.resize(n, last);
    }
    data.truncate(n);
    Ok(Lut { first: desc[1] as i64, bits: desc[2] as u32, data })
}

/// Expand a segmented LUT (discrete, linear and indirect segments).
pub fn expand_segmented(words: &[u16]) -> Result<Vec<i64>> {
    let mut out: Vec<i64> = Vec::new();
    expand_segments(words, 0, None, &mut out, 0)?;
    Ok(out)
}

fn expand_segments(w: &[u16], mut i: usize, max_segs: Option<usize>, out: &mut Vec<i64>, depth: u32) -> Result<usize> {
    let err = || Error::decode("malformed segmented palette LUT");
    if depth > 8 || out.len() > (1 << 20) {
        return Err(err());
    }
    let mut count = 0usize;
    while i + 1 < w.len() && max_segs.map_or(true, |m| count < m) {
        let op = w[i];
        let len = w[i + 1] as usize;
        i += 2;
        match op {
            0 => {
                if i + len > w.len() {
                    return Err(err());
                }
                out.extend(w[i..i + len].iter().map(|&v| v as i64));
                i += len;
            }
            1 => {
                let y1 = *w.get(i).ok_or_else(err)? as f64;
                i += 1;
                let y0 = out.last().copied().unwrap_or(0) as f64;
                for k in 1..=len {
                    out.push((y0 + (y1 - y0) * k as f64 / len as f64 + 0.5).floor() as i64); // rounded half up
                }
            }
            2 => {
                if i + 2 > w.len() {
                    return Err(err());
                }
                let off = (w[i] as usize) | ((w[i + 1] as usize) << 16);
                i += 2;
                expand_segments(w, off, Some(len), out, depth + 1)?;
            }
            _ => return Err(err()),
        }
        count += 1;
    }
    Ok(i)
}

/// Burn overlay planes into `data` (channels 1 or 3); returns the planes shown.
#[allow(clippy::too_many_arguments)]
fn burn_overlays(
    ds: &DataSet,
    info: &ImageInfo,
    frame: usize,
    o: &Options,
    raw: &RawFrame,
    data: &mut [u16],
    channels: usize,
    value: &[u16],
) -> Vec<u8> {
    let mut shown = Vec::new();
    if o.overlays == Overlays::None {
        return shown;
    }
    let (rows, cols) = (info.rows as i64, info.cols as i64);
    for plane in 0..16u8 {
        let g = 0x6000u16 + 2 * plane as u16;
        let has_data = ds.contains(tag(g, 0x3000));
        if !ds.contains(tag(g, 0x0010)) && !has_data {
            continue;
        }
        if let Overlays::Planes(p) = &o.overlays {
            if !p.contains(&plane) {
                continue;
            }
        }
        let o_rows = ds.int(tag(g, 0x0010)).unwrap_or(rows);
        let o_cols = ds.int(tag(g, 0x0011)).unwrap_or(cols);
        let origin = ds.get(tag(g, 0x0050)).and_then(|_| {
            let v = ds.u16s(tag(g, 0x0050))?;
            if v.len() >= 2 {
                Some((v[0] as i16 as i64, v[1] as i16 as i64))
            } else {
                None
            }
        });
        let (or, oc) = origin.unwrap_or((1, 1));
        let n_frames = ds.int(tag(g, 0x0015)).filter(|&v| v != 0).unwrap_or(1);
        let first = ds.int(tag(g, 0x0051)).filter(|&v| v != 0).unwrap_or(1);
        let k = frame as i64 - (first - 1);
        if k < 0 || k >= n_frames {
            continue;
        }
        let bit_at: Box<dyn Fn(i64, i64) -> bool> = if has_data {
            let bytes = ds.bytes(tag(g, 0x3000)).unwrap_or(&[]);
            let base = (o_rows * o_cols * k) as usize;
            let oc_ = o_cols;
            Box::new(move |r: i64, c: i64| {
                let idx = base + (r * oc_ + c) as usize;
                bytes.get(idx / 8).map(|b| (b >> (idx % 8)) & 1 == 1).unwrap_or(false)
            })
        } else if let Some(bit) = ds.int(tag(g, 0x0102)) {
            let spp = info.spp;
            let words = &raw.data;
            let icols = info.cols as i64;
            let irows = info.rows as i64;
            Box::new(move |r: i64, c: i64| {
                if r >= irows || c >= icols || !(0..32).contains(&bit) {
                    return false;
                }
                let idx = ((r * icols + c) as usize) * spp;
                words.get(idx).map(|w| (w >> bit) & 1 == 1).unwrap_or(false)
            })
        } else {
            continue;
        };
        let (r0, c0) = (or - 1, oc - 1);
        let rs = r0.max(0);
        let cs = c0.max(0);
        let re = (r0 + o_rows).min(rows);
        let ce = (c0 + o_cols).min(cols);
        for r in rs..re {
            for c in cs..ce {
                if bit_at(r - r0, c - c0) {
                    let i = (r * cols + c) as usize * channels;
                    data[i..i + channels].copy_from_slice(&value[..channels]);
                }
            }
        }
        shown.push(plane);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_window_hand_values() {
        // c=40, w=400, 8 bit: lo = 40-0.5-199.5 = -160, hi = 239
        assert_eq!(window_linear(-160.0, 40.0, 400.0, 255.0), 0.0);
        assert_eq!(window_linear(240.0, 40.0, 400.0, 255.0), 255.0);
        // centre: ((40 - 39.5)/399 + 0.5)*255 = 127.8195...
        let y = window_linear(40.0, 40.0, 400.0, 255.0);
        assert!((y - 127.819548872).abs() < 1e-6);
        assert_eq!(quantize(y, 255.0), 128);
        // w = 1 is a threshold at c - 0.5
        assert_eq!(window_linear(9.5, 10.0, 1.0, 255.0), 0.0);
        assert_eq!(window_linear(9.6, 10.0, 1.0, 255.0), 255.0);
    }

    #[test]
    fn linear_exact_and_sigmoid() {
        assert_eq!(window_linear_exact(0.0, 0.0, 100.0, 255.0), 127.5);
        assert_eq!(quantize(127.5, 255.0), 128); // round half up
        assert_eq!(window_linear_exact(-50.0, 0.0, 100.0, 255.0), 0.0);
        assert_eq!(window_linear_exact(50.0, 0.0, 100.0, 255.0), 255.0);
        assert_eq!(window_linear_exact(25.0, 0.0, 100.0, 65535.0), 49151.25);
        assert_eq!(window_sigmoid(10.0, 10.0, 20.0, 255.0), 127.5);
        // x = c + w/4: 255/(1+e^-1) = 186.4198...
        assert!((window_sigmoid(15.0, 10.0, 20.0, 255.0) - 186.41987).abs() < 1e-3);
    }

    #[test]
    fn palette_index_rounds_and_clips() {
        assert_eq!(palette_index(-3.0, 255.0), 0);
        assert_eq!(palette_index(127.49, 255.0), 127);
        assert_eq!(palette_index(127.5, 255.0), 128);
        assert_eq!(palette_index(300.0, 255.0), 255);
        assert_eq!(palette_index(257.0 * 200.0, 65535.0), 200);
        assert_eq!(palette_index(257.0 * 200.0 - 128.0, 65535.0), 200);
        assert_eq!(palette_index(257.0 * 200.0 - 129.0, 65535.0), 199);
    }

    #[test]
    fn palettes_hold_the_standard_entries() {
        // PS3.6 (2013) Table B.1.1.2-2 Hot Iron: row 0 (0,0,0), row 82 (164,0,0); tail of PET 20 Step (B.1.4)
        let hot = palette("hot_iron").unwrap();
        assert_eq!((hot[0], hot[1], hot[82], hot[121]), ([0, 0, 0], [2, 0, 0], [164, 0, 0], [242, 0, 0]));
        let step = palette("pet_20_step").unwrap();
        assert_eq!((step[192], step[204], step[217]), ([208, 144, 0], [192, 96, 0], [176, 48, 0]));
        assert!(palette("viridis").is_err());
    }

    #[test]
    fn quantize_clips() {
        assert_eq!(quantize(-3.0, 255.0), 0);
        assert_eq!(quantize(300.0, 255.0), 255);
        assert_eq!(quantize(254.49, 255.0), 254);
        assert_eq!(quantize(f64::NAN, 255.0), 0);
    }

    #[test]
    fn lut_lookup_clamps() {
        let l = Lut { first: -2, bits: 12, data: vec![10, 20, 30, 4095] };
        assert_eq!(lut_lookup(-5, &l), 10);
        assert_eq!(lut_lookup(-2, &l), 10);
        assert_eq!(lut_lookup(0, &l), 30);
        assert_eq!(lut_lookup(100, &l), 4095);
        assert_eq!(lut_bits(&l), 12);
        // a 16-bit descriptor with 12-bit data: 12 bits used
        let l16 = Lut { first: 0, bits: 16, data: vec![0, 4095] };
        assert_eq!(lut_bits(&l16), 12);
    }

    #[test]
    fn ybr_conversion() {
        // grey stays grey
        assert_eq!(ybr_to_rgb(100.0, 128.0, 128.0), [100.0, 100.0, 100.0]);
        // pure red in T.871: Y=76.245, Cb=84.972, Cr=255.5 -> ~ (255, 0, 0)
        let rgb = ybr_to_rgb(76.245, 84.972, 255.5);
        assert_eq!(quantize(rgb[0], 255.0), 255);
        assert_eq!(quantize(rgb[1], 255.0), 0);
        assert_eq!(quantize(rgb[2], 255.0), 0);
        let rgb = ybr_to_rgb(128.0, 0.0, 255.0);
        assert_eq!([quantize(rgb[0], 255.0), quantize(rgb[1], 255.0), quantize(rgb[2], 255.0)], [255, 81, 0]);
    }

    #[test]
    fn colour_scaling() {
        assert_eq!(colour_scale(8, 255.0), 1.0);
        assert_eq!(colour_scale(16, 65535.0), 1.0);
        assert_eq!(colour_scale(8, 65535.0), 257.0);
        assert_eq!(quantize(65535.0 * colour_scale(16, 255.0), 255.0), 255);
        assert_eq!(quantize(300.0 * colour_scale(16, 255.0), 255.0), 1); // 300/257 = 1.167
        // 12-bit YBR: chroma offset 2048
        assert_eq!(ybr_to_rgb_offset(1000.0, 2048.0, 2048.0, 2048.0), [1000.0, 1000.0, 1000.0]);
    }

    #[test]
    fn segmented_lut() {
        // discrete [0, 10], linear to 50 over 4 entries, indirect copy of the first segment
        let w = [0u16, 2, 0, 10, 1, 4, 50, 2, 1, 0, 0];
        let out = expand_segmented(&w).unwrap();
        assert_eq!(out, vec![0, 10, 20, 30, 40, 50, 0, 10]);
    }

    #[test]
    fn linear_range_constant_frame() {
        assert_eq!(linear_range(5.0, 5.0, 5.0, 255.0), 0.0);
        assert_eq!(linear_range(7.5, 5.0, 10.0, 255.0), 127.5);
    }
}
