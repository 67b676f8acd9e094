//! A small baseline JPEG encoder (ITU-T T.81 process 1): 8-bit gray or YCbCr 4:2:0 (libjpeg's default),
//! IJG-style quality scaling of the Annex K quantisation tables, Annex K Huffman tables.

use crate::render::Image;

const LUM_Q: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
const CHR_Q: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99,
];
/// zigzag index -> natural (row-major) index
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
    55, 62, 63,
];

const DC_LUM_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHR_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const AC_LUM_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_CHR_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_LUM_PREFIX: [u8; 39] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
    0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09,
    0x0a,
];
const AC_CHR_PREFIX: [u8; 43] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32,
    0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16,
    0x24, 0x34, 0xe1, 0x25, 0xf1,
];

/// Annex K AC symbol order: the irregular prefix, then every other symbol in ascending order.
fn ac_values(prefix: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    let mut all = vec![0x00u8, 0xF0];
    for r in 0..16u8 {
        for s in 1..=10u8 {
            all.push((r << 4) | s);
        }
    }
    all.sort();
    for s in all {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

/// (code, length) for each symbol from a DHT-style description.
fn build_codes(bits: &[u8; 16], vals: &[u8]) -> [(u16, u8); 256] {
    let mut codes = [(0u16, 0u8); 256];
    let mut code = 0u16;
    let mut k = 0;
    for l in 1..=16u8 {
        for _ in 0..bits[l as usize - 1] {
            codes[vals[k] as usize] = (code, l);
            code += 1;
            k += 1;
        }
        code <<= 1;
    }
    codes
}

struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, len: u32) {
        if len == 0 {
            return;
        }
        self.acc = (self.acc << len) | (code & ((1 << len) - 1));
        self.n += len;
        while self.n >= 8 {
            let b = ((self.acc >> (self.n - 8)) & 0xFF) as u8;
            self.out.push(b);
            if b == 0xFF {
                self.out.push(0);
            }
            self.n -= 8;
        }
        self.acc &= (1 << self.n) - 1;
    }
    fn flush(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
    }
}

fn scaled_table(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = quality.clamp(1, 100) as u32;
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut t = [0u16; 64];
    for i in 0..64 {
        t[i] = ((base[i] as u32 * scale + 50) / 100).clamp(1, 255) as u16;
    }
    t
}

fn fdct(block: &[f32; 64], cos: &[[f32; 8]; 8], out: &mut [f32; 64]) {
    let mut tmp = [0f32; 64];
    for y in 0..8 {
        for u in 0..8 {
            let mut s = 0f32;
            for x in 0..8 {
                s += block[y * 8 + x] * cos[u][x];
            }
            tmp[y * 8 + u] = s;
        }
    }
    for u in 0..8 {
        for v in 0..8 {
            let mut s = 0f32;
            for y in 0..8 {
                s += tmp[y * 8 + u] * cos[v][y];
            }
            out[v * 8 + u] = s;
        }
    }
}

fn category(v: i32) -> u32 {
    32 - (v.unsigned_abs()).leading_zeros()
}

pub fn encode(img: &Image, quality: u8) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let nc = if img.channels == 3 { 3 } else { 1 };
    let tables = [scaled_table(&LUM_Q, quality), scaled_table(&CHR_Q, quality)];
    let ac_lum = ac_values(&AC_LUM_PREFIX);
    let ac_chr = ac_values(&AC_CHR_PREFIX);
    let dc_vals: Vec<u8> = (0..12).collect();
    let dc_codes = [build_codes(&DC_LUM_BITS, &dc_vals), build_codes(&DC_CHR_BITS, &dc_vals)];
    let ac_codes = [build_codes(&AC_LUM_BITS, &ac_lum), build_codes(&AC_CHR_BITS, &ac_chr)];

    let mut out = vec![0xFF, 0xD8];
    // APP0 JFIF
    out.extend_from_slice(&[0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    for (id, t) in tables.iter().enumerate().take(if nc == 3 { 2 } else { 1 }) {
        out.extend_from_slice(&[0xFF, 0xDB, 0, 67, id as u8]);
        for k in 0..64 {
            out.push(t[ZIGZAG[k]] as u8);
        }
    }
    // SOF0
    let sof_len = 8 + 3 * nc as u16;
    out.extend_from_slice(&[0xFF, 0xC0]);
    out.extend_from_slice(&sof_len.to_be_bytes());
    out.push(8);
    out.extend_from_slice(&(h as u16).to_be_bytes());
    out.extend_from_slice(&(w as u16).to_be_bytes());
    out.push(nc as u8);
    for c in 0..nc {
        let hv = if nc == 3 && c == 0 { 0x22 } else { 0x11 };
        out.extend_from_slice(&[c as u8 + 1, hv, if c == 0 { 0 } else { 1 }]);
    }
    // DHT
    let mut dht = |class_id: u8, bits: &[u8; 16], vals: &[u8]| {
        out.extend_from_slice(&[0xFF, 0xC4]);
        out.extend_from_slice(&((3 + 16 + vals.len()) as u16).to_be_bytes());
        out.push(class_id);
        out.extend_from_slice(bits);
        out.extend_from_slice(vals);
    };
    dht(0x00, &DC_LUM_BITS, &dc_vals);
    dht(0x10, &AC_LUM_BITS, &ac_lum);
    if nc == 3 {
        dht(0x01, &DC_CHR_BITS, &dc_vals);
        dht(0x11, &AC_CHR_BITS, &ac_chr);
    }
    // SOS
    out.extend_from_slice(&[0xFF, 0xDA]);
    out.extend_from_slice(&((6 + 2 * nc) as u16).to_be_bytes());
    out.push(nc as u8);
    for c in 0..nc {
        out.extend_from_slice(&[c as u8 + 1, if c == 0 { 0x00 } else { 0x11 }]);
    }
    out.extend_from_slice(&[0, 63, 0]);

    // Sample planes (integers 0..255 as libjpeg computes them), then level-shifted blocks. Colour is
    // YCbCr 4:2:0 like libjpeg's (and Pillow's) default: chroma averaged over 2x2 with alternating bias.
    let n = w * h;
    let mut planes: Vec<Vec<i32>> = vec![vec![0; n]; nc];
    for i in 0..n {
        if nc == 3 {
            let (r, g, b) = (img.data[i * 3] as f64, img.data[i * 3 + 1] as f64, img.data[i * 3 + 2] as f64);
            planes[0][i] = (0.299 * r + 0.587 * g + 0.114 * b + 0.5).floor() as i32;
            planes[1][i] = (-0.168736 * r - 0.331264 * g + 0.5 * b + 128.0 + 0.5).floor().clamp(0.0, 255.0) as i32;
            planes[2][i] = (0.5 * r - 0.418688 * g - 0.081312 * b + 128.0 + 0.5).floor().clamp(0.0, 255.0) as i32;
        } else {
            planes[0][i] = img.data[i] as i32;
        }
    }
    let (mcu_w, mcu_h) = if nc == 3 { (16, 16) } else { (8, 8) };
    let mcux = (w + mcu_w - 1) / mcu_w;
    let mcuy = (h + mcu_h - 1) / mcu_h;
    // chroma planes downsampled over the edge-replicated, MCU-padded image
    let (cw, ch) = (mcux * 8, mcuy * 8);
    let mut chroma: Vec<Vec<i32>> = Vec::new();
    if nc == 3 {
        for plane in &planes[1..] {
            let at = |x: usize, y: usize| plane[y.min(h - 1) * w + x.min(w - 1)];
            let mut d = vec![0i32; cw * ch];
            for y in 0..ch {
                let mut bias = 1;
                for x in 0..cw {
                    let s = at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1);
                    d[y * cw + x] = (s + bias) >> 2;
                    bias ^= 3;
                }
            }
            chroma.push(d);
        }
    }
    let mut cos = [[0f32; 8]; 8];
    for (u, row) in cos.iter_mut().enumerate() {
        let cu = if u == 0 { (0.5f32).sqrt() } else { 1.0 };
        for (x, c) in row.iter_mut().enumerate() {
            *c = 0.5 * cu * (((2 * x + 1) as f32 * u as f32 * std::f32::consts::PI) / 16.0).cos();
        }
    }
    let mut bw = BitWriter { out: Vec::new(), acc: 0, n: 0 };
    let mut pred = [0i32; 3];
    let mut coef = [0f32; 64];
    let mut encode_block = |bw: &mut BitWriter, block: &[f32; 64], c: usize| {
        fdct(block, &cos, &mut coef);
        let tid = if c == 0 { 0 } else { 1 };
        let t = &tables[tid];
        let mut q = [0i32; 64];
        for k in 0..64 {
            let nat = ZIGZAG[k];
            q[k] = (coef[nat] / t[nat] as f32).round() as i32;
        }
        let diff = q[0] - pred[c];
        pred[c] = q[0];
        let cat = category(diff);
        let (code, len) = dc_codes[tid][cat as usize];
        bw.put(code as u32, len as u32);
        let bits = if diff < 0 { diff - 1 } else { diff };
        bw.put(bits as u32, cat);
        let mut run = 0;
        for &v in q.iter().skip(1) {
            if v == 0 {
                run += 1;
                continue;
            }
            while run > 15 {
                let (code, len) = ac_codes[tid][0xF0];
                bw.put(code as u32, len as u32);
                run -= 16;
            }
            let cat = category(v).min(10);
            let (code, len) = ac_codes[tid][((run << 4) | cat) as usize];
            bw.put(code as u32, len as u32);
            let bits = if v < 0 { v - 1 } else { v };
            bw.put(bits as u32, cat);
            run = 0;
        }
        if run > 0 {
            let (code, len) = ac_codes[tid][0x00];
            bw.put(code as u32, len as u32);
        }
    };
    let mut block = [0f32; 64];
    for my in 0..mcuy {
        for mx in 0..mcux {
            // luminance (or gray): 1 block, or 2x2 blocks per MCU for 4:2:0
            let per = if nc == 3 { 2 } else { 1 };
            for v in 0..per {
                for hh in 0..per {
                    let (bx, by) = ((mx * per + hh) * 8, (my * per + v) * 8);
                    for y in 0..8 {
                        let sy = (by + y).min(h - 1);
                        for x in 0..8 {
                            let sx = (bx + x).min(w - 1);
                            block[y * 8 + x] = (planes[0][sy * w + sx] - 128) as f32;
                        }
                    }
                    encode_block(&mut bw, &block, 0);
                }
            }
            for (k, d) in chroma.iter().enumerate() {
                for y in 0..8 {
                    for x in 0..8 {
                        block[y * 8 + x] = (d[(my * 8 + y) * cw + mx * 8 + x] - 128) as f32;
                    }
                }
                encode_block(&mut bw, &block, k + 1);
            }
        }
    }
    bw.flush();
    out.extend(bw.out);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_k_tables_have_162_symbols() {
        assert_eq!(ac_values(&AC_LUM_PREFIX).len(), 162);
        assert_eq!(ac_values(&AC_CHR_PREFIX).len(), 162);
        assert_eq!(AC_LUM_BITS.iter().map(|&b| b as usize).sum::<usize>(), 162);
        assert_eq!(AC_CHR_BITS.iter().map(|&b| b as usize).sum::<usize>(), 162);
    }

    fn roundtrip(channels: usize) {
        let (w, h) = (37, 21);
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                for c in 0..channels {
                    data.push((x * 3 + y * 2 + c * 40) as u16); // smooth: chroma is subsampled
                }
            }
        }
        let img = Image { width: w, height: h, channels, bit_depth: 8, data: data.clone() };
        let bytes = encode(&img, 95);
        let mut d = jpeg_decoder::Decoder::new(&bytes[..]);
        let px = d.decode().unwrap();
        assert_eq!(px.len(), data.len());
        let err: f64 = px.iter().zip(&data).map(|(&a, &b)| (a as f64 - b as f64).abs()).sum::<f64>() / data.len() as f64;
        assert!(err < 4.0, "mean abs error {}", err);
    }

    #[test]
    fn gray_roundtrip() {
        roundtrip(1);
    }

    #[test]
    fn rgb_roundtrip() {
        roundtrip(3);
    }
}
