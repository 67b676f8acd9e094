//! Stage 6, encoding: PNG (8/16-bit, zlib level 0..9 via flate2), binary PNM (P5/P6),
//! baseline uncompressed TIFF and baseline JPEG (jpeg_enc.rs).

use crate::render::Image;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::Write;

pub const DEFAULT_PNG_LEVEL: u32 = 1;
pub const DEFAULT_JPEG_QUALITY: u8 = 90;

fn crc32(data: &[u8]) -> u32 {
    static mut TABLE: [u32; 256] = [0; 256];
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        for n in 0..256u32 {
            let mut c = n;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            unsafe { TABLE[n as usize] = c };
        }
    });
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c = unsafe { TABLE[((c ^ b as u32) & 0xFF) as usize] } ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Samples as big-endian bytes (16-bit) or bytes (8-bit), row-major, interleaved.
fn sample_bytes_be(img: &Image) -> Vec<u8> {
    if img.bit_depth == 16 {
        let mut v = Vec::with_capacity(img.data.len() * 2);
        for &s in &img.data {
            v.extend_from_slice(&s.to_be_bytes());
        }
        v
    } else {
        img.data.iter().map(|&s| s as u8).collect()
    }
}

pub fn png(img: &Image, level: Option<u8>) -> Vec<u8> {
    let level = level.map(|l| l as u32).unwrap_or(DEFAULT_PNG_LEVEL);
    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(img.width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(img.height as u32).to_be_bytes());
    ihdr.push(img.bit_depth as u8);
    ihdr.push(if img.channels == 3 { 2 } else { 0 });
    ihdr.extend_from_slice(&[0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let bytes = sample_bytes_be(img);
    let stride = img.width * img.channels * (img.bit_depth as usize / 8);
    let bpp = img.channels * (img.bit_depth as usize / 8);
    // Filter: Sub for every row (cheap and effective on smooth medical images) unless level 0
    let mut raw = Vec::with_capacity((stride + 1) * img.height);
    for row in bytes.chunks_exact(stride.max(1)).take(img.height) {
        if level == 0 {
            raw.push(0);
            raw.extend_from_slice(row);
        } else {
            raw.push(1);
            for i in 0..row.len() {
                let left = if i >= bpp { row[i - bpp] } else { 0 };
                raw.push(row[i].wrapping_sub(left));
            }
        }
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(level));
    z.write_all(&raw).expect("in-memory zlib");
    let idat = z.finish().expect("in-memory zlib");
    for part in idat.chunks(1 << 20) {
        chunk(&mut out, b"IDAT", part);
    }
    if idat.is_empty() {
        chunk(&mut out, b"IDAT", &[]);
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Binary PGM (P5) / PPM (P6); 16-bit samples big-endian with maxval 65535 (Netpbm).
pub fn pnm(img: &Image) -> Vec<u8> {
    let magic = if img.channels == 3 { "P6" } else { "P5" };
    let maxval = if img.bit_depth == 16 { 65535 } else { 255 };
    let mut out = format!("{}\n{} {}\n{}\n", magic, img.width, img.height, maxval).into_bytes();
    out.extend(sample_bytes_be(img));
    out
}

/// Baseline TIFF, little endian, one uncompressed strip.
pub fn tiff(img: &Image) -> Vec<u8> {
    let bps = img.bit_depth as u16;
    let spp = img.channels as u16;
    let mut pixels = Vec::with_capacity(img.data.len() * (bps as usize / 8));
    for &s in &img.data {
        if bps == 16 {
            pixels.extend_from_slice(&s.to_le_bytes());
        } else {
            pixels.push(s as u8);
        }
    }
    let n_entries: u16 = 12;
    let ifd_off = 8u32;
    let ifd_len = 2 + 12 * n_entries as u32 + 4;
    let mut extra_off = ifd_off + ifd_len;
    let bps_off = extra_off; // 3 x u16 for RGB
    if spp == 3 {
        extra_off += 6;
    }
    let xres_off = extra_off;
    let yres_off = extra_off + 8;
    extra_off += 16;
    let data_off = extra_off;
    let mut out = Vec::with_capacity(data_off as usize + pixels.len());
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&ifd_off.to_le_bytes());
    out.extend_from_slice(&n_entries.to_le_bytes());
    let mut entry = |t: u16, ty: u16, count: u32, value: u32| {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        if ty == 3 && count == 1 {
            out.extend_from_slice(&(value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    };
    entry(256, 4, 1, img.width as u32); // ImageWidth
    entry(257, 4, 1, img.height as u32); // ImageLength
    if spp == 3 {
        entry(258, 3, 3, bps_off); // BitsPerSample
    } else {
        entry(258, 3, 1, bps as u32);
    }
    entry(259, 3, 1, 1); // Compression: none
    entry(262, 3, 1, if spp == 3 { 2 } else { 1 }); // Photometric: RGB / BlackIsZero
    entry(273, 4, 1, data_off); // StripOffsets
    entry(277, 3, 1, spp as u32); // SamplesPerPixel
    entry(278, 4, 1, img.height as u32); // RowsPerStrip
    entry(279, 4, 1, pixels.len() as u32); // StripByteCounts
    entry(282, 5, 1, xres_off); // XResolution
    entry(283, 5, 1, yres_off); // YResolution
    entry(296, 3, 1, 1); // ResolutionUnit: none
    out.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    if spp == 3 {
        for _ in 0..3 {
            out.extend_from_slice(&bps.to_le_bytes());
        }
    }
    for _ in 0..2 {
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    debug_assert_eq!(out.len(), data_off as usize);
    out.extend(pixels);
    out
}

pub fn encode(img: &Image, format: &str, quality: Option<u8>, png_level: Option<u8>) -> Vec<u8> {
    match format {
        "pnm" => pnm(img),
        "tiff" => tiff(img),
        "jpeg" => crate::jpeg_enc::encode(img, quality.unwrap_or(DEFAULT_JPEG_QUALITY)),
        _ => png(img, png_level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_iend() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn png_roundtrip_16bit() {
        let img = Image { width: 3, height: 2, channels: 1, bit_depth: 16, data: vec![0, 1, 65535, 300, 2, 7] };
        let bytes = png(&img, Some(6));
        let dec = png::Decoder::new(&bytes[..]);
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height, info.bit_depth as u8), (3, 2, 16));
        let vals: Vec<u16> = buf.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        assert_eq!(vals, img.data);
    }

    #[test]
    fn png_roundtrip_rgb() {
        let img = Image { width: 2, height: 1, channels: 3, bit_depth: 8, data: vec![255, 0, 10, 1, 2, 3] };
        for lvl in [0u8, 1, 9] {
            let bytes = png(&img, Some(lvl));
            let mut r = png::Decoder::new(&bytes[..]).read_info().unwrap();
            let mut buf = vec![0; r.output_buffer_size()];
            r.next_frame(&mut buf).unwrap();
            assert_eq!(buf, vec![255, 0, 10, 1, 2, 3]);
        }
    }

    #[test]
    fn pnm_header() {
        let img = Image { width: 2, height: 1, channels: 1, bit_depth: 16, data: vec![1, 258] };
        assert_eq!(pnm(&img), b"P5\n2 1\n65535\n\x00\x01\x01\x02".to_vec());
    }

    #[test]
    fn tiff_layout() {
        let img = Image { width: 2, height: 2, channels: 3, bit_depth: 8, data: (0..12).collect() };
        let t = tiff(&img);
        assert_eq!(&t[0..4], b"II*\0");
        let data_off = t.len() - 12;
        assert_eq!(&t[data_off..], &(0..12u8).collect::<Vec<_>>()[..]);
    }
}
