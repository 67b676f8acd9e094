//! Stage 1, decoding: Image Pixel module attributes and raw sample words of one frame
//! (native, RLE, JPEG baseline/extended via jpeg-decoder, JPEG lossless, JPEG 2000, JPEG-LS).

use crate::dicom::{tag, DataSet, DicomFile, Value, PIXEL_DATA};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub rows: usize,
    pub cols: usize,
    pub spp: usize,
    pub bits_alloc: u32,
    pub bits_stored: u32,
    pub high_bit: u32,
    pub signed: bool,
    pub photometric: String,
    pub planar: u16,
    pub frames: usize,
}

/// One decoded frame: raw sample words, pixel-interleaved (spp samples per pixel).
#[derive(Debug, Clone)]
pub struct RawFrame {
    pub data: Vec<u32>,
    /// Photometric interpretation of `data` (a JPEG decoder may have converted YBR to RGB already).
    pub photometric: String,
    /// The words hold the full BitsAllocated word (native data): embedded overlays can be read.
    #[allow(dead_code)]
    pub full_words: bool,
}

pub fn image_info(ds: &DataSet) -> Result<ImageInfo> {
    let rows = ds.int(tag(0x0028, 0x0010)).unwrap_or(0) as usize;
    let cols = ds.int(tag(0x0028, 0x0011)).unwrap_or(0) as usize;
    if rows == 0 || cols == 0 {
        return Err(Error::new("no_pixel_data", "Rows/Columns missing or zero"));
    }
    let spp = ds.int(tag(0x0028, 0x0002)).unwrap_or(1).max(1) as usize;
    let bits_alloc = ds.int(tag(0x0028, 0x0100)).unwrap_or(8) as u32;
    if !matches!(bits_alloc, 1 | 8 | 16 | 32) {
        return Err(Error::decode(format!("BitsAllocated {} is not supported", bits_alloc)));
    }
    let mut bits_stored = ds.int(tag(0x0028, 0x0101)).unwrap_or(bits_alloc as i64) as u32;
    if bits_stored == 0 || bits_stored > bits_alloc {
        bits_stored = bits_alloc;
    }
    let mut high_bit = ds.int(tag(0x0028, 0x0102)).map(|v| v as u32).unwrap_or(bits_stored - 1);
    if high_bit >= bits_alloc || high_bit + 1 < bits_stored {
        high_bit = bits_stored - 1;
    }
    let signed = ds.int(tag(0x0028, 0x0103)).unwrap_or(0) == 1;
    let photometric = ds.str(tag(0x0028, 0x0004)).unwrap_or_else(|| "MONOCHROME2".into()).to_uppercase();
    let planar = ds.int(tag(0x0028, 0x0006)).unwrap_or(0) as u16;
    let frames = ds.int(tag(0x0028, 0x0008)).unwrap_or(1).max(1) as usize;
    Ok(ImageInfo { rows, cols, spp, bits_alloc, bits_stored, high_bit, signed, photometric, planar, frames })
}

/// Samples of one frame above which a request is refused (`input_too_large`): about 4 GB of working
/// memory in the f64 pipeline. 2^27 samples is e.g. 11585 x 11585 gray or 6689 x 6689 RGB.
pub const MAX_FRAME_SAMPLES: usize = 1 << 27;

/// Refuse absurd declared sizes before anything is allocated: too many samples per frame, or more
/// frames than the Pixel Data can hold (native: its length; encapsulated: one fragment at least each).
pub fn check_size(file: &DicomFile, info: &ImageInfo) -> Result<()> {
    let samples = info.rows.saturating_mul(info.cols).saturating_mul(info.spp);
    if samples > MAX_FRAME_SAMPLES {
        return Err(Error::new(
            "input_too_large",
            format!("{} x {} x {} samples per frame is more than this renderer accepts ({})", info.rows, info.cols, info.spp, MAX_FRAME_SAMPLES),
        )
        .with_field("input"));
    }
    match file.ds.get(PIXEL_DATA).map(|e| &e.value) {
        Some(Value::Bytes(b)) => {
            let bits = samples.saturating_mul(info.bits_alloc as usize);
            let per_frame = if info.photometric == "YBR_FULL_422" && info.spp == 3 && info.bits_alloc == 8 {
                info.rows * ((info.cols + 1) / 2) * 4 * 8
            } else {
                bits
            };
            let need = per_frame.saturating_mul(info.frames);
            if need / 8 > b.len() + 1 && need.saturating_sub(per_frame) / 8 >= b.len() {
                return Err(Error::decode(format!(
                    "NumberOfFrames {} does not fit in {} bytes of Pixel Data",
                    info.frames,
                    b.len()
                ))
                .with_field("input"));
            }
        }
        Some(Value::Encap { fragments, .. }) => {
            if info.frames > fragments.len().max(1) {
                return Err(Error::decode(format!(
                    "NumberOfFrames {} but the Pixel Data has {} fragment(s)",
                    info.frames,
                    fragments.len()
                ))
                .with_field("input"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Stored value from a raw word (PS3.5 8 / SEMANTICS.md 1): BitsStored bits ending at HighBit, sign-extended.
#[inline]
pub fn stored_value(raw: u32, bits_stored: u32, high_bit: u32, signed: bool) -> i64 {
    let shift = high_bit + 1 - bits_stored;
    let mask: u64 = if bits_stored >= 32 { 0xFFFF_FFFF } else { (1u64 << bits_stored) - 1 };
    let v = ((raw as u64) >> shift) & mask;
    if signed {
        let sign = 1u64 << (bits_stored - 1);
        if v & sign != 0 {
            return v as i64 - (1i64 << bits_stored);
        }
    }
    v as i64
}

fn is_native(ts: &str) -> bool {
    matches!(ts, "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.2" | "1.2.840.10008.1.2.1.99")
}

pub fn decode_frame(file: &DicomFile, info: &ImageInfo, frame: usize) -> Result<RawFrame> {
    let ds = &file.ds;
    let el = ds.get(PIXEL_DATA).ok_or_else(|| {
        if ds.contains(0x7FE0_0008) || ds.contains(0x7FE0_0009) {
            Error::new("no_pixel_data", "float Pixel Data (7FE0,0008/0009) is not supported")
        } else {
            Error::new("no_pixel_data", "the file has no Pixel Data (7FE0,0010)")
        }
    })?;
    if frame >= info.frames {
        return Err(Error::new(
            "frame_out_of_range",
            format!("frame {} is out of range: the file has {} frame(s) (0-based)", frame, info.frames),
        )
        .with_field("options.frame"));
    }
    match &el.value {
        Value::Bytes(b) => {
            if !is_native(&file.transfer_syntax) && !b.is_empty() && file.transfer_syntax != "1.2.840.10008.1.2.5" {
                // Some writers store compressed data with a defined length: not decodable here
            }
            decode_native(b, ds.big_endian && &el.vr == b"OW", info, frame)
        }
        Value::Encap { offsets, fragments } => {
            // Extended Offset Table (7FE0,0001, 64-bit offsets) if present, else the Basic Offset Table
            let table: Vec<usize> = match ds.bytes(0x7FE0_0001) {
                Some(eot) if eot.len() >= 8 * info.frames => eot
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as usize)
                    .collect(),
                _ => offsets.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize).collect(),
            };
            let data = frame_bytes(&table, fragments, info.frames, frame, &file.transfer_syntax)?;
            decode_compressed(&data, &file.transfer_syntax, info)
        }
        Value::Seq(_) => Err(Error::decode("Pixel Data is a sequence")),
    }
}

fn decode_native(b: &[u8], big_ow: bool, info: &ImageInfo, frame: usize) -> Result<RawFrame> {
    let n = info.rows * info.cols;
    let ybr422 = info.photometric == "YBR_FULL_422" && info.spp == 3;
    let samples = n * info.spp;
    let mut out = Vec::with_capacity(samples.min(b.len().saturating_mul(8)));
    match info.bits_alloc {
        1 => {
            let start = frame * samples;
            let need = (start + samples + 7) / 8;
            if b.len() < need {
                return Err(Error::decode("Pixel Data is shorter than Rows x Columns x frames"));
            }
            for i in start..start + samples {
                out.push(((b[i / 8] >> (i % 8)) & 1) as u32);
            }
        }
        8 => {
            let fsize = if ybr422 { n * 2 } else { samples };
            let start = frame * fsize;
            if b.len() < start + fsize {
                return Err(Error::decode("Pixel Data is shorter than Rows x Columns x frames"));
            }
            let s = &b[start..start + fsize];
            if big_ow {
                // 8-bit samples in an OW value of a big endian file: bytes swapped in pairs
                for i in start..start + fsize {
                    out.push(b.get(i ^ 1).copied().unwrap_or(0) as u32);
                }
            } else {
                out.extend(s.iter().map(|&v| v as u32));
            }
            if ybr422 {
                out = expand_422(&out, info.rows, info.cols);
                return Ok(RawFrame { data: out, photometric: "YBR_FULL".into(), full_words: true });
            }
        }
        16 => {
            let start = frame * samples * 2;
            if b.len() < start + samples * 2 {
                return Err(Error::decode("Pixel Data is shorter than Rows x Columns x frames"));
            }
            let s = &b[start..start + samples * 2];
            if big_ow {
                out.extend(s.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]) as u32));
            } else {
                out.extend(s.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32));
            }
        }
        32 => {
            let start = frame * samples * 4;
            if b.len() < start + samples * 4 {
                return Err(Error::decode("Pixel Data is shorter than Rows x Columns x frames"));
            }
            let s = &b[start..start + samples * 4];
            if big_ow {
                out.extend(s.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
            } else {
                out.extend(s.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            }
        }
        _ => return Err(Error::decode("unsupported BitsAllocated")),
    }
    if info.spp > 1 && info.planar == 1 {
        out = planar_to_interleaved(&out, info.spp);
    }
    Ok(RawFrame { data: out, photometric: info.photometric.clone(), full_words: true })
}

pub fn planar_to_interleaved(p: &[u32], spp: usize) -> Vec<u32> {
    let n = p.len() / spp;
    let mut out = vec![0u32; p.len()];
    for s in 0..spp {
        for i in 0..n {
            out[i * spp + s] = p[s * n + i];
        }
    }
    out
}

/// YBR_FULL_422 native layout: Y1 Y2 Cb Cr for each pair of pixels -> full YBR triplets.
pub fn expand_422(d: &[u32], rows: usize, cols: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(rows * cols * 3);
    let mut i = 0;
    for _ in 0..rows {
        let mut c = 0;
        while c < cols {
            let (y1, y2, cb, cr) = (d[i], d[i + 1], d[i + 2], d[i + 3]);
            i += 4;
            out.extend_from_slice(&[y1, cb, cr]);
            if c + 1 < cols {
                out.extend_from_slice(&[y2, cb, cr]);
            }
            c += 2;
        }
    }
    out
}

/// The bytes of one frame from the fragments (PS3.5 A.4).
fn frame_bytes(bot: &[usize], fragments: &[Vec<u8>], frames: usize, frame: usize, ts: &str) -> Result<Vec<u8>> {
    if fragments.is_empty() {
        return Err(Error::decode("encapsulated Pixel Data has no fragments"));
    }
    if frames == 1 {
        return Ok(fragments.concat());
    }
    if bot.len() == frames {
        // fragment positions relative to the first fragment's item tag
        let mut pos = 0usize;
        let mut starts = Vec::with_capacity(fragments.len());
        for f in fragments {
            starts.push(pos);
            pos += 8 + f.len();
        }
        let lo = bot[frame];
        let hi = if frame + 1 < frames { bot[frame + 1] } else { usize::MAX };
        let mut out = Vec::new();
        for (f, &s) in fragments.iter().zip(&starts) {
            if s >= lo && s < hi {
                out.extend_from_slice(f);
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    if fragments.len() == frames {
        return Ok(fragments[frame].clone());
    }
    // split at fragments that start a new codestream
    let rle = ts == "1.2.840.10008.1.2.5";
    let mut groups: Vec<Vec<u8>> = Vec::new();
    for f in fragments {
        let starts_new = if rle {
            true
        } else {
            f.len() >= 2 && f[0] == 0xFF && (f[1] == 0xD8 || f[1] == 0x4F) || f.len() >= 12 && &f[4..8] == b"jP  "
        };
        if starts_new || groups.is_empty() {
            groups.push(f.clone());
        } else {
            groups.last_mut().unwrap().extend_from_slice(f);
        }
    }
    groups
        .into_iter()
        .nth(frame)
        .ok_or_else(|| Error::decode(format!("frame {} not found among the Pixel Data fragments", frame)))
}

fn decode_compressed(data: &[u8], ts: &str, info: &ImageInfo) -> Result<RawFrame> {
    match ts {
        "1.2.840.10008.1.2.5" => {
            let d = crate::rle::decode(data, info.rows, info.cols, info.spp, info.bits_alloc)?;
            Ok(RawFrame { data: d, photometric: info.photometric.clone(), full_words: true })
        }
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => {
            let (d, _) = crate::jpeg_lossless::decode_sized(data, Some((info.cols, info.rows)))?;
            check_len(&d, info)?;
            Ok(RawFrame { data: d, photometric: info.photometric.clone(), full_words: false })
        }
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51" => decode_jpeg(data, info),
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" | "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202"
        | "1.2.840.10008.1.2.4.203" => {
            let d = crate::codecs::decode_j2k(data, info)?;
            check_len(&d.data, info)?;
            Ok(d)
        }
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => {
            let d = crate::codecs::decode_jls(data, info)?;
            check_len(&d.data, info)?;
            Ok(d)
        }
        _ => Err(Error::unsupported_ts(format!("transfer syntax {} is not supported by rust_render", ts))),
    }
}

fn check_len(d: &[u32], info: &ImageInfo) -> Result<()> {
    if d.len() < info.rows * info.cols * info.spp {
        return Err(Error::decode(format!(
            "decoded frame has {} samples, expected {}x{}x{}",
            d.len(),
            info.rows,
            info.cols,
            info.spp
        )));
    }
    Ok(())
}

fn decode_jpeg(data: &[u8], info: &ImageInfo) -> Result<RawFrame> {
    // lossless (SOF3) frames inside a baseline/extended transfer syntax: use our own decoder
    if find_sof(data) == Some(0xC3) {
        let (d, _) = crate::jpeg_lossless::decode_sized(data, Some((info.cols, info.rows)))?;
        return Ok(RawFrame { data: d, photometric: info.photometric.clone(), full_words: false });
    }
    match crate::jpeg_dct::decode_sized(data, Some((info.cols, info.rows))) {
        Ok(d) => {
            if d.width != info.cols || d.height != info.rows {
                return Err(Error::decode(format!(
                    "JPEG frame is {}x{} but the data set says {}x{}",
                    d.width, d.height, info.cols, info.rows
                )));
            }
            let photometric = if d.ncomp == 3 && d.adobe_transform == Some(1) { "RGB".to_string() } else { info.photometric.clone() };
            check_len(&d.data, info)?;
            return Ok(RawFrame { data: d.data, photometric, full_words: false });
        }
        Err(e) if crate::jpeg_dct::is_progressive_or_arithmetic(&e) => {}
        Err(e) => return Err(e),
    }
    // progressive JPEG: jpeg-decoder (8-bit only; it converts YCbCr to RGB itself)
    let mut dec = jpeg_decoder::Decoder::new(data);
    let pixels = dec.decode().map_err(|e| {
        let m = e.to_string();
        if m.contains("unsupported") || m.contains("Unsupported") {
            Error::unsupported_ts(format!("JPEG: {}", m))
        } else {
            Error::decode(format!("JPEG: {}", m))
        }
    })?;
    let meta = dec.info().ok_or_else(|| Error::decode("JPEG: no frame header"))?;
    use jpeg_decoder::PixelFormat as P;
    let (d, photometric) = match meta.pixel_format {
        P::L8 => (pixels.iter().map(|&v| v as u32).collect::<Vec<_>>(), info.photometric.clone()),
        P::L16 => (pixels.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]]) as u32).collect(), info.photometric.clone()),
        P::RGB24 => (pixels.iter().map(|&v| v as u32).collect(), "RGB".to_string()),
        P::CMYK32 => return Err(Error::decode("JPEG: CMYK data")),
    };
    if meta.width as usize != info.cols || meta.height as usize != info.rows {
        return Err(Error::decode(format!(
            "JPEG frame is {}x{} but the data set says {}x{}",
            meta.width, meta.height, info.cols, info.rows
        )));
    }
    check_len(&d, info)?;
    Ok(RawFrame { data: d, photometric, full_words: false })
}

fn find_sof(data: &[u8]) -> Option<u8> {
    let mut i = 0;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            i += 1;
            continue;
        }
        let m = data[i + 1];
        if m == 0xD8 || m == 0xFF || (0xD0..=0xD7).contains(&m) || m == 0x01 || m == 0x00 {
            i += if m == 0xFF { 1 } else { 2 };
            continue;
        }
        if (0xC0..=0xCF).contains(&m) && m != 0xC4 && m != 0xC8 && m != 0xCC {
            return Some(m);
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_extension_and_masking() {
        // 12 bits stored in 16, high bit 11: 0x0FFF is -1 signed, 4095 unsigned
        assert_eq!(stored_value(0x0FFF, 12, 11, true), -1);
        assert_eq!(stored_value(0x0FFF, 12, 11, false), 4095);
        assert_eq!(stored_value(0x0800, 12, 11, true), -2048);
        assert_eq!(stored_value(0x07FF, 12, 11, true), 2047);
        // garbage/overlay bits above the stored bits are ignored
        assert_eq!(stored_value(0xF123, 12, 11, false), 0x123);
        // high bit not at BitsStored-1: stored bits 4..15
        assert_eq!(stored_value(0xFFF0, 12, 15, true), -1);
        assert_eq!(stored_value(0x8000, 16, 15, true), -32768);
        assert_eq!(stored_value(0xFFFF_FFFF, 32, 31, true), -1);
        assert_eq!(stored_value(0xFFFF_FFFF, 32, 31, false), 4294967295);
    }

    #[test]
    fn ybr422_expansion() {
        let d = vec![10, 20, 100, 200, 30, 40, 101, 201];
        let out = expand_422(&d, 1, 4);
        assert_eq!(out, vec![10, 100, 200, 20, 100, 200, 30, 101, 201, 40, 101, 201]);
    }

    #[test]
    fn planar_deinterleave() {
        assert_eq!(planar_to_interleaved(&[1, 2, 3, 4, 5, 6], 3), vec![1, 3, 5, 2, 4, 6]);
    }
}
