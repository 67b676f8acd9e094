//! `--op decode`: the stored values of one frame or all, before any display stage, as `.npy`
//! (contract/OPS.md, section decode): rows x cols [x samples], frames first when several, little-endian,
//! the smallest integer type of BitsAllocated with the Pixel Representation's sign; masked to BitsStored at
//! HighBit and sign-extended; PALETTE COLOR indices, MONOCHROME1 not inverted, YBR kept unless
//! `color_space` is `rgb` (YBR_FULL / YBR_FULL_422 by PS3.3 C.7.6.3.1.2). The result carries the MD5 of
//! the array's bytes (C order), computed here (`md5` below, RFC 1321).

use crate::dicom::DicomFile;
use crate::error::{Error, Result};
use crate::options::FrameSel;
use crate::pixels::{self, ImageInfo};
use serde_json::{json, Value as J};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColorSpace {
    Native,
    Rgb,
}

impl ColorSpace {
    pub fn parse(s: &str) -> Result<ColorSpace> {
        match s {
            "native" => Ok(ColorSpace::Native),
            "rgb" => Ok(ColorSpace::Rgb),
            _ => Err(Error::invalid("options.color_space", format!("color_space is native or rgb, not {:?}", s))),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ColorSpace::Native => "native",
            ColorSpace::Rgb => "rgb",
        }
    }
}

/// The numpy dtype of the values: (descr, name, bytes per value).
pub fn dtype_of(bits_alloc: u32, signed: bool) -> (&'static str, &'static str, usize) {
    match (bits_alloc <= 8, bits_alloc <= 16, signed) {
        (true, _, false) => ("|u1", "uint8", 1),
        (true, _, true) => ("|i1", "int8", 1),
        (false, true, false) => ("<u2", "uint16", 2),
        (false, true, true) => ("<i2", "int16", 2),
        (false, false, false) => ("<u4", "uint32", 4),
        (false, false, true) => ("<i4", "int32", 4),
    }
}

/// The `.npy` (format 1.0) header: magic, version, header length, the dict padded with spaces to a
/// multiple of 64 bytes and ending in a newline (numpy's own layout).
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, dims);
    let total = 10 + dict.len() + 1;
    let pad = (64 - total % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// YBR_FULL -> RGB by PS3.3 C.7.6.3.1.2, rounded half to even (numpy's rint) and clipped to the sample range.
pub fn ybr_full_to_rgb(y: i64, cb: i64, cr: i64, bits: u32) -> [i64; 3] {
    let top = ((1u64 << bits) - 1) as f64;
    let half = (1u64 << (bits - 1)) as f64;
    let (y, cb, cr) = (y as f64, cb as f64, cr as f64);
    let r = y + 1.402 * (cr - half);
    let g = y - 0.344136 * (cb - half) - 0.714136 * (cr - half);
    let b = y + 1.772 * (cb - half);
    [r, g, b].map(|v| v.round_ties_even().clamp(0.0, top) as i64)
}

/// Append `v` to `out` as one little-endian value of `size` bytes (two's complement when negative).
fn push_value(out: &mut Vec<u8>, v: i64, size: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..size]);
}

/// The stored values of `frames` as the `.npy` payload; the photometric interpretation of what is returned.
pub fn decode_values(file: &DicomFile, info: &ImageInfo, frames: &[usize], cs: ColorSpace) -> Result<(Vec<u8>, String)> {
    let n = info.rows * info.cols * info.spp;
    let (_, _, size) = dtype_of(info.bits_alloc, info.signed);
    let mut out = Vec::with_capacity(n.saturating_mul(size).saturating_mul(frames.len()));
    let mut photometric = info.photometric.clone();
    for &f in frames {
        let raw = pixels::decode_frame(file, info, f)?;
        if raw.data.len() < n {
            return Err(Error::decode(format!("the decoded frame has {} samples, {} expected", raw.data.len(), n)).with_field("input"));
        }
        // decoded colour data is pixel-interleaved at full resolution: 4:2:2 is upsampled by then
        photometric = if raw.photometric == "YBR_FULL_422" { "YBR_FULL".to_string() } else { raw.photometric.clone() };
        let stored: Vec<i64> = raw.data[..n].iter().map(|&r| pixels::stored_value(r, info.bits_stored, info.high_bit, info.signed)).collect();
        if cs == ColorSpace::Rgb && photometric == "YBR_FULL" {
            if info.spp != 3 {
                return Err(Error::decode(format!("{} data without three samples", photometric)));
            }
            for px in stored.chunks_exact(3) {
                for v in ybr_full_to_rgb(px[0], px[1], px[2], info.bits_stored) {
                    push_value(&mut out, v, size);
                }
            }
        } else {
            for v in stored {
                push_value(&mut out, v, size);
            }
        }
    }
    if cs == ColorSpace::Rgb && photometric == "YBR_FULL" {
        photometric = "RGB".to_string();
    }
    Ok((out, photometric))
}

/// The array's shape: frames first when several, samples last when more than one.
pub fn shape_of(info: &ImageInfo, frames: usize) -> Vec<usize> {
    let mut shape = Vec::new();
    if frames > 1 {
        shape.push(frames);
    }
    shape.push(info.rows);
    shape.push(info.cols);
    if info.spp > 1 {
        shape.push(info.spp);
    }
    shape
}

/// `--op decode`: write the `.npy` to `output` (atomically; an existing file only with `overwrite`) and
/// answer the result object.
pub fn run(input: &str, output: &str, overwrite: bool, frame: FrameSel, cs: ColorSpace) -> Result<J> {
    let file = crate::read_input(input)?;
    let info = pixels::image_info(&file.ds)?;
    pixels::check_size(&file, &info)?;
    if cs == ColorSpace::Rgb && info.photometric.starts_with("YBR") && !matches!(info.photometric.as_str(), "YBR_FULL" | "YBR_FULL_422") {
        return Err(Error::option("color_space", format!("color_space rgb converts YBR_FULL and YBR_FULL_422, not {}", info.photometric)));
    }
    let frames: Vec<usize> = match frame {
        FrameSel::One(f) if f >= info.frames => {
            return Err(Error::new("frame_out_of_range", format!("frame {} is out of range: the file has {} frame(s) (0-based)", f, info.frames))
                .with_field("options.frame"))
        }
        FrameSel::One(f) => vec![f],
        FrameSel::All => (0..info.frames).collect(),
    };
    let out_path = PathBuf::from(output);
    let parent = out_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::new("output_dir_missing", format!("output folder does not exist: {}", parent.display())).with_field("output"));
    }
    if out_path.is_dir() || (out_path.exists() && !overwrite) {
        return Err(Error::new("output_exists", format!("output exists: {} (use --overwrite)", out_path.display())).with_field("output"));
    }
    let (payload, photometric) = decode_values(&file, &info, &frames, cs)?;
    let (descr, name, _) = dtype_of(info.bits_alloc, info.signed);
    let shape = shape_of(&info, frames.len());
    let mut bytes = npy_header(descr, &shape);
    bytes.extend_from_slice(&payload);
    let temp = out_path.with_file_name(format!(
        ".{}.dicom-render-{}.tmp",
        out_path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&temp, &bytes).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::new("backend_failed", format!("cannot write {}: {}", temp.display(), e))
    })?;
    let placed = if overwrite {
        std::fs::rename(&temp, &out_path).map_err(|e| e.to_string())
    } else {
        std::fs::hard_link(&temp, &out_path).map_err(|e| e.to_string())
    };
    let _ = std::fs::remove_file(&temp);
    if let Err(e) = placed {
        return Err(Error::new("output_exists", format!("cannot move the output into place: {}", e)).with_field("output"));
    }
    Ok(json!({
        "shape": shape,
        "dtype": name,
        "md5": md5_hex(&payload),
        "frames": frames,
        "photometric": photometric,
        "color_space": cs.name(),
        "transfer_syntax": file.transfer_syntax,
        "decoder": format!("rust_render {} (its own decoders)", crate::VERSION),
    }))
}

/// MD5 (RFC 1321) of `data`, lower-case hex.
pub fn md5_hex(data: &[u8]) -> String {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(2^32 * |sin(i + 1)|)
    let k: Vec<u32> = (0..64).map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32).collect();
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks_exact(64) {
        let m: Vec<u32> = chunk.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let (mut a, mut b, mut c, mut d) = (h[0], h[1], h[2], h[3]);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        h[0] = h[0].wrapping_add(a);
        h[1] = h[1].wrapping_add(b);
        h[2] = h[2].wrapping_add(c);
        h[3] = h[3].wrapping_add(d);
    }
    h.iter().flat_map(|w| w.to_le_bytes()).map(|b| format!("{:02x}", b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_the_rfc_1321_test_suite() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex(b"message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
        assert_eq!(
            md5_hex(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn npy_header_is_numpys() {
        // numpy 1.x/2.x: np.save(f, np.zeros((2, 3), '<i2')) writes exactly this 128-byte header
        let h = npy_header("<i2", &[2, 3]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text.starts_with("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(text.ends_with(" \n"));
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, h.len() - 10);
        assert!(std::str::from_utf8(&npy_header("|u1", &[5])[10..]).unwrap().contains("'shape': (5,)"));
    }

    #[test]
    fn dtypes_and_values() {
        assert_eq!(dtype_of(8, false).0, "|u1");
        assert_eq!(dtype_of(1, false).1, "uint8");
        assert_eq!(dtype_of(16, true).0, "<i2");
        assert_eq!(dtype_of(12, false).0, "<u2");
        assert_eq!(dtype_of(32, true).1, "int32");
        let mut out = Vec::new();
        push_value(&mut out, -2, 2);
        push_value(&mut out, 300, 2);
        push_value(&mut out, -1, 1);
        assert_eq!(out, vec![0xFE, 0xFF, 0x2C, 0x01, 0xFF]);
    }

    #[test]
    fn ybr_full_to_rgb_as_the_reference() {
        assert_eq!(ybr_full_to_rgb(128, 128, 128, 8), [128, 128, 128]);
        // R = 76 + 1.402 * 127 = 254.05; G = 76 + 0.344136 * 43 - 0.714136 * 127 = 0.10; B < 0
        assert_eq!(ybr_full_to_rgb(76, 85, 255, 8), [254, 0, 0]);
        // G = 255 - 0.714136 * 127 = 164.3; R and B clipped to 255
        assert_eq!(ybr_full_to_rgb(255, 128, 255, 8), [255, 164, 255]);
    }

    #[test]
    fn shapes() {
        let info = ImageInfo {
            rows: 2,
            cols: 3,
            spp: 3,
            bits_alloc: 8,
            bits_stored: 8,
            high_bit: 7,
            signed: false,
            photometric: "RGB".into(),
            planar: 0,
            frames: 4,
        };
        assert_eq!(shape_of(&info, 1), vec![2, 3, 3]);
        assert_eq!(shape_of(&info, 4), vec![4, 2, 3, 3]);
        let grey = ImageInfo { spp: 1, ..info };
        assert_eq!(shape_of(&grey, 1), vec![2, 3]);
    }
}
