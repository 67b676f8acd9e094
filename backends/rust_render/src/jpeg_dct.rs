//! Sequential DCT JPEG (ITU-T T.81 baseline and extended Huffman, 8- and 12-bit), any sampling
//! factors, restart intervals, interleaved or per-component scans. The samples come back as coded
//! (no colour transform unless an Adobe APP14 marker asks for one), chroma upsampled like libjpeg's
//! "fancy" upsampling so that YBR data agrees with the Pillow/libjpeg path of the reference.

use crate::error::{Error, Result};
use crate::jpeg_lossless::{Bits, Huff};

const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
    55, 62, 63,
];

pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub ncomp: usize,
    #[allow(dead_code)]
    pub precision: u32,
    /// pixel-interleaved samples
    pub data: Vec<u32>,
    pub adobe_transform: Option<u8>,
}

struct Comp {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    bw: usize,
    bh: usize,
    plane: Vec<i32>,
    pred: i32,
}

fn err(m: &str) -> Error {
    Error::decode(format!("JPEG: {}", m))
}

pub fn is_progressive_or_arithmetic(e: &Error) -> bool {
    e.code == "unsupported_transfer_syntax"
}

#[allow(dead_code)]
pub fn decode(data: &[u8]) -> Result<Decoded> {
    decode_sized(data, None)
}

/// Decode, refusing (before allocating) a frame whose size is not `expect` = (columns, rows).
pub fn decode_sized(data: &[u8], expect: Option<(usize, usize)>) -> Result<Decoded> {
    let mut qt = [[0u16; 64]; 4];
    let mut dc_tables: [Option<Huff>; 4] = [None, None, None, None];
    let mut ac_tables: [Option<Huff>; 4] = [None, None, None, None];
    let mut comps: Vec<Comp> = Vec::new();
    let (mut width, mut height, mut precision) = (0usize, 0usize, 8u32);
    let (mut hmax, mut vmax) = (1usize, 1usize);
    let mut restart_interval = 0usize;
    let mut adobe = None;
    let mut i = 0usize;
    let mut got_frame = false;
    while i + 1 < data.len() {
        if data[i] != 0xFF {
            i += 1;
            continue;
        }
        let m = data[i + 1];
        i += 2;
        match m {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xFF => {
                i -= 1;
                continue;
            }
            0xD9 => break,
            _ => {}
        }
        if i + 2 > data.len() {
            break;
        }
        let len = u16::from_be_bytes([data[i], data[i + 1]]) as usize;
        if len < 2 || i + len > data.len() {
            return Err(err("truncated marker segment"));
        }
        let seg = &data[i + 2..i + len];
        i += len;
        match m {
            0xC0 | 0xC1 => {
                if seg.len() < 6 {
                    return Err(err("short SOF"));
                }
                precision = seg[0] as u32;
                if precision != 8 && precision != 12 {
                    return Err(err("DCT precision must be 8 or 12"));
                }
                height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
                width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
                if let Some((ew, eh)) = expect {
                    if (width, height) != (ew, eh) && width != 0 && height != 0 {
                        return Err(Error::decode(format!("JPEG frame is {}x{} but the data set says {}x{}", width, height, ew, eh)));
                    }
                }
                let nf = seg[5] as usize;
                if nf == 0 || seg.len() < 6 + 3 * nf || width == 0 || height == 0 {
                    return Err(err("bad SOF"));
                }
                for k in 0..nf {
                    let hv = seg[7 + 3 * k];
                    let (h, v) = ((hv >> 4) as usize, (hv & 15) as usize);
                    if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                        return Err(err("bad sampling factors"));
                    }
                    comps.push(Comp { id: seg[6 + 3 * k], h, v, tq: (seg[8 + 3 * k] & 3) as usize, bw: 0, bh: 0, plane: Vec::new(), pred: 0 });
                }
                if width.saturating_mul(height).saturating_mul(nf) > crate::pixels::MAX_FRAME_SAMPLES {
                    return Err(Error::new("input_too_large", format!("JPEG frame of {} x {} is too large", width, height)));
                }
                hmax = comps.iter().map(|c| c.h).max().unwrap();
                vmax = comps.iter().map(|c| c.v).max().unwrap();
                let mcux = (width + 8 * hmax - 1) / (8 * hmax);
                let mcuy = (height + 8 * vmax - 1) / (8 * vmax);
                for c in comps.iter_mut() {
                    c.bw = mcux * c.h;
                    c.bh = mcuy * c.v;
                    c.plane = vec![0; c.bw * 8 * c.bh * 8];
                }
                got_frame = true;
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Error::unsupported_ts(format!("JPEG: SOF{} frames are not handled by the DCT decoder", m - 0xC0)));
            }
            0xDB => {
                let mut p = 0;
                while p < seg.len() {
                    let pq = seg[p] >> 4;
                    let tq = (seg[p] & 3) as usize;
                    p += 1;
                    for k in 0..64 {
                        let v = if pq == 0 {
                            let v = *seg.get(p).ok_or_else(|| err("short DQT"))? as u16;
                            p += 1;
                            v
                        } else {
                            let v = u16::from_be_bytes([*seg.get(p).ok_or_else(|| err("short DQT"))?, *seg.get(p + 1).ok_or_else(|| err("short DQT"))?]);
                            p += 2;
                            v
                        };
                        qt[tq][ZIGZAG[k]] = v;
                    }
                }
            }
            0xC4 => {
                let mut p = 0;
                while p + 17 <= seg.len() {
                    let tc = seg[p] >> 4;
                    let th = (seg[p] & 3) as usize;
                    let mut counts = [0u8; 16];
                    counts.copy_from_slice(&seg[p + 1..p + 17]);
                    let total: usize = counts.iter().map(|&c| c as usize).sum();
                    if p + 17 + total > seg.len() {
                        return Err(err("short DHT"));
                    }
                    let h = Huff::new(&counts, seg[p + 17..p + 17 + total].to_vec());
                    if tc == 0 {
                        dc_tables[th] = Some(h);
                    } else {
                        ac_tables[th] = Some(h);
                    }
                    p += 17 + total;
                }
            }
            0xDD => {
                if seg.len() >= 2 {
                    restart_interval = u16::from_be_bytes([seg[0], seg[1]]) as usize;
                }
            }
            0xEE => {
                if seg.len() >= 12 && &seg[0..5] == b"Adobe" {
                    adobe = Some(seg[11]);
                }
            }
            0xDA => {
                if !got_frame {
                    return Err(err("scan before frame header"));
                }
                let ns = seg[0] as usize;
                if ns == 0 || seg.len() < 1 + 2 * ns + 3 {
                    return Err(err("short SOS"));
                }
                let mut sc = Vec::new();
                for k in 0..ns {
                    let cid = seg[1 + 2 * k];
                    let t = seg[2 + 2 * k];
                    let ci = comps.iter().position(|c| c.id == cid).ok_or_else(|| err("scan names an unknown component"))?;
                    let dc = dc_tables[(t >> 4) as usize & 3].clone().ok_or_else(|| err("missing DC table"))?;
                    let ac = ac_tables[(t & 3) as usize].clone().ok_or_else(|| err("missing AC table"))?;
                    sc.push((ci, dc, ac));
                }
                let used = decode_scan(&data[i..], &mut comps, &sc, &qt, width, height, hmax, vmax, precision, restart_interval)?;
                i += used;
            }
            _ => {}
        }
    }
    if !got_frame {
        return Err(err("no frame header"));
    }
    // upsample and interleave
    let nc = comps.len();
    let mut out = vec![0u32; width * height * nc];
    for (k, c) in comps.iter().enumerate() {
        let cw = (width * c.h + hmax - 1) / hmax;
        let ch = (height * c.v + vmax - 1) / vmax;
        let stride = c.bw * 8;
        let full = upsample(&c.plane, stride, cw, ch, hmax / c.h, vmax / c.v, width, height, hmax % c.h == 0 && vmax % c.v == 0);
        for (p, &v) in full.iter().enumerate() {
            out[p * nc + k] = v as u32;
        }
    }
    if nc == 3 && adobe.map_or(false, |t| t == 1) {
        let maxv = ((1u32 << precision) - 1) as f64;
        let half = (1u32 << (precision - 1)) as f64;
        for px in out.chunks_exact_mut(3) {
            let (y, cb, cr) = (px[0] as f64, px[1] as f64 - half, px[2] as f64 - half);
            let rgb = [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb];
            for c in 0..3 {
                px[c] = (rgb[c] + 0.5).floor().clamp(0.0, maxv) as u32;
            }
        }
    }
    Ok(Decoded { width, height, ncomp: nc, precision, data: out, adobe_transform: adobe })
}

#[allow(clippy::too_many_arguments)]
fn upsample(plane: &[i32], stride: usize, cw: usize, ch: usize, fx: usize, fy: usize, w: usize, h: usize, integral: bool) -> Vec<i32> {
    let at = |x: usize, y: usize| plane[y.min(ch - 1) * stride + x.min(cw - 1)];
    let mut out = vec![0i32; w * h];
    if fx == 1 && fy == 1 {
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = at(x, y);
            }
        }
    } else if integral && fx == 2 && fy == 1 {
        // libjpeg h2v1 "fancy" upsampling (triangle filter)
        for y in 0..h {
            for x in 0..w {
                let i = x / 2;
                let a = at(i, y) * 3;
                out[y * w + x] = if x % 2 == 0 {
                    (a + at(i.saturating_sub(1), y) + 1) >> 2
                } else {
                    (a + at(i + 1, y) + 2) >> 2
                };
            }
        }
    } else if integral && fx == 2 && fy == 2 {
        // libjpeg h2v2 "fancy" upsampling
        for y in 0..h {
            let iy = y / 2;
            let ny = if y % 2 == 0 { iy.saturating_sub(1) } else { (iy + 1).min(ch - 1) };
            let colsum = |i: usize| at(i, iy) * 3 + at(i, ny);
            for x in 0..w {
                let i = x / 2;
                let this = colsum(i);
                out[y * w + x] = if x % 2 == 0 {
                    (this * 3 + colsum(i.saturating_sub(1)) + 8) >> 4
                } else {
                    (this * 3 + colsum((i + 1).min(cw - 1)) + 7) >> 4
                };
            }
        }
    } else {
        for y in 0..h {
            for x in 0..w {
                out[y * w + x] = at(x / fx, y / fy);
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    d: &[u8],
    comps: &mut [Comp],
    sc: &[(usize, Huff, Huff)],
    qt: &[[u16; 64]; 4],
    width: usize,
    height: usize,
    hmax: usize,
    vmax: usize,
    precision: u32,
    restart_interval: usize,
) -> Result<usize> {
    let mut bits = Bits::new(d);
    let idct = Idct::new();
    let shift = 1i32 << (precision - 1);
    let maxv = (1i32 << precision) - 1;
    for &(ci, _, _) in sc {
        comps[ci].pred = 0;
    }
    let mut mcu = 0usize;
    let mut coef = [0i32; 64];
    let mut block = |bits: &mut Bits, comp: &mut Comp, dc: &Huff, ac: &Huff, bx: usize, by: usize| -> Result<()> {
        coef.iter_mut().for_each(|c| *c = 0);
        let q = &qt[comp.tq];
        let t = bits.decode(dc)? as u32;
        if t > 16 {
            return Err(err("bad DC category"));
        }
        let diff = extend(bits.get(t), t);
        comp.pred = comp.pred.wrapping_add(diff);
        coef[0] = comp.pred * q[0] as i32;
        let mut k = 1;
        while k < 64 {
            let rs = bits.decode(ac)?;
            let (r, s) = ((rs >> 4) as usize, (rs & 15) as u32);
            if s == 0 {
                if r == 15 {
                    k += 16;
                    continue;
                }
                break;
            }
            k += r;
            if k > 63 {
                break;
            }
            let z = ZIGZAG[k];
            coef[z] = extend(bits.get(s), s) * q[z] as i32;
            k += 1;
        }
        let stride = comp.bw * 8;
        let base = by * 8 * stride + bx * 8;
        if precision == 8 {
            idct_islow(&coef, &mut comp.plane[base..], stride);
        } else {
            idct.run(&coef, &mut comp.plane[base..], stride, shift, maxv);
        }
        Ok(())
    };
    if sc.len() == 1 {
        let (ci, ref dc, ref ac) = sc[0];
        let (h, v) = (comps[ci].h, comps[ci].v);
        let cw = (width * h + hmax - 1) / hmax;
        let chh = (height * v + vmax - 1) / vmax;
        let nbx = (cw + 7) / 8;
        let nby = (chh + 7) / 8;
        for by in 0..nby {
            for bx in 0..nbx {
                if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
                    bits.restart();
                    comps[ci].pred = 0;
                }
                block(&mut bits, &mut comps[ci], dc, ac, bx, by)?;
                mcu += 1;
            }
        }
    } else {
        let mcux = (width + 8 * hmax - 1) / (8 * hmax);
        let mcuy = (height + 8 * vmax - 1) / (8 * vmax);
        for my in 0..mcuy {
            for mx in 0..mcux {
                if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
                    bits.restart();
                    for &(ci, _, _) in sc {
                        comps[ci].pred = 0;
                    }
                }
                for (ci, dc, ac) in sc {
                    let (h, v) = (comps[*ci].h, comps[*ci].v);
                    for yy in 0..v {
                        for xx in 0..h {
                            block(&mut bits, &mut comps[*ci], dc, ac, mx * h + xx, my * v + yy)?;
                        }
                    }
                }
                mcu += 1;
            }
        }
    }
    let mut p = bits.position();
    while p + 1 < d.len() {
        if d[p] == 0xFF && d[p + 1] != 0x00 && !(0xD0..=0xD7).contains(&d[p + 1]) && d[p + 1] != 0xFF {
            break;
        }
        p += 1;
    }
    Ok(p)
}

#[inline]
fn extend(v: u32, t: u32) -> i32 {
    if t == 0 {
        return 0;
    }
    let v = v as i32;
    if v < (1 << (t - 1)) {
        v - (1 << t) + 1
    } else {
        v
    }
}

/// The accurate integer IDCT of the IJG library (jidctint.c, "islow": Loeffler-Ligtenberg-Moschytz
/// with 13-bit constants), written from the published algorithm so that 8-bit output agrees exactly
/// with libjpeg/libjpeg-turbo (Pillow), as the reference backend uses.
fn idct_islow(coef: &[i32; 64], out: &mut [i32], stride: usize) {
    const CB: i64 = 13;
    const P1: i64 = 2;
    const F0_298: i64 = 2446;
    const F0_390: i64 = 3196;
    const F0_541: i64 = 4433;
    const F0_765: i64 = 6270;
    const F0_899: i64 = 7373;
    const F1_175: i64 = 9633;
    const F1_501: i64 = 12299;
    const F1_847: i64 = 15137;
    const F1_961: i64 = 16069;
    const F2_053: i64 = 16819;
    const F2_562: i64 = 20995;
    const F3_072: i64 = 25172;
    let descale = |x: i64, n: i64| (x + (1 << (n - 1))) >> n;
    // returns the 8 outputs of a 1-D pass before descaling, as (sum, difference) pairs
    let pass = |d: [i64; 8]| -> [i64; 8] {
        let (z2, z3) = (d[2], d[6]);
        let z1 = (z2 + z3) * F0_541;
        let tmp2 = z1 + z3 * -F1_847;
        let tmp3 = z1 + z2 * F0_765;
        let tmp0 = (d[0] + d[4]) << CB;
        let tmp1 = (d[0] - d[4]) << CB;
        let (t10, t13, t11, t12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
        let (mut o0, mut o1, mut o2, mut o3) = (d[7], d[5], d[3], d[1]);
        let z1 = o0 + o3;
        let z2 = o1 + o2;
        let z3 = o0 + o2;
        let z4 = o1 + o3;
        let z5 = (z3 + z4) * F1_175;
        o0 *= F0_298;
        o1 *= F2_053;
        o2 *= F3_072;
        o3 *= F1_501;
        let z1 = z1 * -F0_899;
        let z2 = z2 * -F2_562;
        let z3 = z3 * -F1_961 + z5;
        let z4 = z4 * -F0_390 + z5;
        o0 += z1 + z3;
        o1 += z2 + z4;
        o2 += z2 + z3;
        o3 += z1 + z4;
        [t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3]
    };
    let mut ws = [0i64; 64];
    for c in 0..8 {
        let d = [0, 1, 2, 3, 4, 5, 6, 7].map(|r| coef[r * 8 + c] as i64);
        let r = pass(d);
        for k in 0..8 {
            ws[k * 8 + c] = descale(r[k], CB - P1);
        }
    }
    for row in 0..8 {
        let d = [0, 1, 2, 3, 4, 5, 6, 7].map(|k| ws[row * 8 + k]);
        let r = pass(d);
        for k in 0..8 {
            let v = descale(r[k], CB + P1 + 3) + 128;
            out[row * stride + k] = v.clamp(0, 255) as i32;
        }
    }
}

struct Idct {
    c: [[f64; 8]; 8],
}

impl Idct {
    fn new() -> Self {
        let mut c = [[0f64; 8]; 8];
        for (u, row) in c.iter_mut().enumerate() {
            let cu = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
            for (x, v) in row.iter_mut().enumerate() {
                *v = 0.5 * cu * (((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI) / 16.0).cos();
            }
        }
        Idct { c }
    }
    fn run(&self, coef: &[i32; 64], out: &mut [i32], stride: usize, shift: i32, maxv: i32) {
        let mut tmp = [0f64; 64];
        // rows: tmp[v][x] = sum_u c[u][x] F[v][u]
        for v in 0..8 {
            let row = &coef[v * 8..v * 8 + 8];
            if row[1..].iter().all(|&a| a == 0) {
                let dc = row[0] as f64 * self.c[0][0];
                for x in 0..8 {
                    tmp[v * 8 + x] = dc;
                }
                continue;
            }
            for x in 0..8 {
                let mut s = 0.0;
                for u in 0..8 {
                    s += self.c[u][x] * row[u] as f64;
                }
                tmp[v * 8 + x] = s;
            }
        }
        for x in 0..8 {
            for y in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    s += self.c[v][y] * tmp[v * 8 + x];
                }
                let val = (s + 0.5).floor() as i32 + shift;
                out[y * stride + x] = val.clamp(0, maxv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Image;

    #[test]
    fn roundtrip_with_our_encoder() {
        let (w, h) = (19, 13);
        let data: Vec<u16> = (0..w * h).map(|i| ((i % w) * 8 + (i / w) * 5) as u16).collect();
        let img = Image { width: w, height: h, channels: 1, bit_depth: 8, data: data.clone() };
        let bytes = crate::jpeg_enc::encode(&img, 100);
        let d = decode(&bytes).unwrap();
        assert_eq!((d.width, d.height, d.ncomp, d.precision), (w, h, 1, 8));
        // agrees with jpeg-decoder within 1
        let other = jpeg_decoder::Decoder::new(&bytes[..]).decode().unwrap();
        for (a, b) in d.data.iter().zip(&other) {
            assert!((*a as i32 - *b as i32).abs() <= 1);
        }
    }

    #[test]
    fn fancy_h2v1_matches_libjpeg_edges() {
        // one row, two input samples -> four outputs: a, (3a+b+2)>>2, (3b+a+1)>>2, b
        let plane = vec![10, 20, 0, 0, 0, 0, 0, 0];
        let out = upsample(&plane, 8, 2, 1, 2, 1, 4, 1, true);
        assert_eq!(out, vec![10, 13, 17, 20]);
    }
}
