//! Lossless JPEG (ITU-T T.81 Annex H, process 14): Huffman-coded prediction differences,
//! predictors 1..7, point transform, restart intervals, 2..16-bit precision, interleaved or
//! one scan per component.

use crate::error::{Error, Result};

#[derive(Clone, Default)]
pub(crate) struct Huff {
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
    /// fast lookup of codes up to 9 bits: (length, value), length 0 = slow path
    fast: Vec<(u8, u8)>,
}

impl Huff {
    pub(crate) fn new(counts: &[u8; 16], values: Vec<u8>) -> Huff {
        let mut h = Huff { values, ..Default::default() };
        let mut code = 0i32;
        let mut k = 0i32;
        h.fast = vec![(0, 0); 512];
        for l in 1..=16usize {
            let n = counts[l - 1] as i32;
            if n == 0 {
                h.maxcode[l] = -1;
            } else {
                h.valptr[l] = k;
                h.mincode[l] = code;
                for j in 0..n {
                    if l <= 9 {
                        let c = (code + j) as usize;
                        let v = h.values.get((k + j) as usize).copied().unwrap_or(0);
                        let pad = 9 - l;
                        for f in 0..(1usize << pad) {
                            h.fast[(c << pad) | f] = (l as u8, v);
                        }
                    }
                }
                code += n;
                k += n;
                h.maxcode[l] = code - 1;
            }
            code <<= 1;
        }
        h.maxcode[17] = i32::MAX;
        h
    }
}

pub(crate) struct Bits<'a> {
    d: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    hit_marker: bool,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(d: &'a [u8]) -> Self {
        Bits { d, pos: 0, acc: 0, n: 0, hit_marker: false }
    }
    /// Bytes consumed from the input so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }
    fn fill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if !self.hit_marker && self.pos < self.d.len() {
                let b = self.d[self.pos];
                if b == 0xFF {
                    let nx = self.d.get(self.pos + 1).copied().unwrap_or(0);
                    if nx == 0x00 {
                        self.pos += 2;
                        byte = 0xFF;
                    } else if nx == 0xFF {
                        self.pos += 1; // fill bytes
                        continue;
                    } else {
                        self.hit_marker = true;
                    }
                } else {
                    self.pos += 1;
                    byte = b;
                }
            }
            self.acc |= (byte as u64) << (56 - self.n);
            self.n += 8;
        }
    }
    #[inline]
    fn peek(&mut self, k: u32) -> u32 {
        if self.n < k {
            self.fill();
        }
        (self.acc >> (64 - k)) as u32
    }
    #[inline]
    fn skip(&mut self, k: u32) {
        self.acc <<= k;
        self.n -= k;
    }
    #[inline]
    pub(crate) fn get(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        let v = self.peek(k);
        self.skip(k);
        v
    }
    pub(crate) fn decode(&mut self, h: &Huff) -> Result<u8> {
        let p = self.peek(9) as usize;
        let (l, v) = h.fast[p];
        if l > 0 {
            self.skip(l as u32);
            return Ok(v);
        }
        let mut code = self.get(1) as i32;
        for l in 1..=16usize {
            if code <= h.maxcode[l] && h.maxcode[l] >= 0 {
                let idx = h.valptr[l] + code - h.mincode[l];
                return h.values.get(idx as usize).copied().ok_or_else(|| Error::decode("JPEG lossless: bad Huffman code"));
            }
            code = (code << 1) | self.get(1) as i32;
        }
        Err(Error::decode("JPEG lossless: bad Huffman code"))
    }
    /// Skip to after the next RST marker (restart interval boundary).
    pub(crate) fn restart(&mut self) {
        self.acc = 0;
        self.n = 0;
        self.hit_marker = false;
        while self.pos + 1 < self.d.len() {
            if self.d[self.pos] == 0xFF && (0xD0..=0xD7).contains(&self.d[self.pos + 1]) {
                self.pos += 2;
                return;
            }
            self.pos += 1;
        }
    }
}

struct Comp {
    id: u8,
}

/// Decode a lossless JPEG codestream: (pixel-interleaved samples, precision).
#[allow(dead_code)]
pub fn decode(data: &[u8]) -> Result<(Vec<u32>, u32)> {
    decode_sized(data, None)
}

/// Decode, refusing (before allocating) a frame whose size is not `expect` = (columns, rows).
pub fn decode_sized(data: &[u8], expect: Option<(usize, usize)>) -> Result<(Vec<u32>, u32)> {
    let mut i = 0usize;
    let mut tables: [Option<Huff>; 4] = [None, None, None, None];
    let mut comps: Vec<Comp> = Vec::new();
    let (mut width, mut height, mut precision) = (0usize, 0usize, 0u32);
    let mut restart_interval = 0usize;
    let mut planes: Vec<Vec<u32>> = Vec::new();
    let err = |m: &str| Error::decode(format!("JPEG lossless: {}", m));
    let mut got_frame = false;
    while i + 1 < data.len() {
        if data[i] != 0xFF {
            i += 1;
            continue;
        }
        let m = data[i + 1];
        i += 2;
        match m {
            0xD8 | 0x01 | 0xD0..=0xD7 | 0xFF => {
                if m == 0xFF {
                    i -= 1;
                }
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
            0xC3 | 0xC7 | 0xCB | 0xCF => {
                if m != 0xC3 {
                    return Err(Error::unsupported_ts("JPEG lossless: only Huffman, non-differential (SOF3) is supported"));
                }
                if seg.len() < 6 {
                    return Err(err("short SOF"));
                }
                precision = seg[0] as u32;
                height = u16::from_be_bytes([seg[1], seg[2]]) as usize;
                width = u16::from_be_bytes([seg[3], seg[4]]) as usize;
                if let Some((ew, eh)) = expect {
                    if (width, height) != (ew, eh) && width != 0 && height != 0 {
                        return Err(Error::decode(format!("JPEG frame is {}x{} but the data set says {}x{}", width, height, ew, eh)));
                    }
                }
                let nf = seg[5] as usize;
                if seg.len() < 6 + 3 * nf || nf == 0 {
                    return Err(err("short SOF"));
                }
                for k in 0..nf {
                    let hv = seg[7 + 3 * k];
                    if hv != 0x11 && nf > 1 {
                        return Err(err("subsampled lossless JPEG is not supported"));
                    }
                    comps.push(Comp { id: seg[6 + 3 * k] });
                }
                if width == 0 || height == 0 {
                    return Err(err("zero-sized frame (DNL) is not supported"));
                }
                if !(2..=16).contains(&precision) {
                    return Err(err("precision out of range"));
                }
                if width.saturating_mul(height).saturating_mul(nf) > crate::pixels::MAX_FRAME_SAMPLES {
                    return Err(Error::new("input_too_large", format!("JPEG frame of {} x {} is too large", width, height)));
                }
                planes = vec![vec![0u32; width * height]; nf];
                got_frame = true;
            }
            0xC0 | 0xC1 | 0xC2 => return Err(err("not a lossless JPEG (DCT frame)")),
            0xC4 => {
                let mut p = 0;
                while p + 17 <= seg.len() {
                    let tc_th = seg[p];
                    let mut counts = [0u8; 16];
                    counts.copy_from_slice(&seg[p + 1..p + 17]);
                    let total: usize = counts.iter().map(|&c| c as usize).sum();
                    if p + 17 + total > seg.len() {
                        return Err(err("short DHT"));
                    }
                    let values = seg[p + 17..p + 17 + total].to_vec();
                    tables[(tc_th & 3) as usize] = Some(Huff::new(&counts, values));
                    p += 17 + total;
                }
            }
            0xDD => {
                if seg.len() >= 2 {
                    restart_interval = u16::from_be_bytes([seg[0], seg[1]]) as usize;
                }
            }
            0xDA => {
                if !got_frame {
                    return Err(err("scan before frame header"));
                }
                let ns = seg[0] as usize;
                if seg.len() < 1 + 2 * ns + 3 {
                    return Err(err("short SOS"));
                }
                let mut scomp = Vec::new();
                for k in 0..ns {
                    let cid = seg[1 + 2 * k];
                    let td = (seg[2 + 2 * k] >> 4) as usize;
                    let ci = comps.iter().position(|c| c.id == cid).ok_or_else(|| err("scan names an unknown component"))?;
                    let h = tables[td & 3].clone().ok_or_else(|| err("missing Huffman table"))?;
                    scomp.push((ci, h));
                }
                let predictor = seg[1 + 2 * ns];
                let pt = (seg[3 + 2 * ns] & 0x0F) as u32;
                let used = decode_scan(&data[i..], &scomp, &mut planes, width, height, precision, predictor, pt, restart_interval)?;
                i += used;
            }
            _ => {}
        }
    }
    if !got_frame {
        return Err(err("no SOF3 frame header"));
    }
    let nf = planes.len();
    let mut out = vec![0u32; width * height * nf];
    for (c, p) in planes.iter().enumerate() {
        for (k, &v) in p.iter().enumerate() {
            out[k * nf + c] = v;
        }
    }
    Ok((out, precision))
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    d: &[u8],
    scomp: &[(usize, Huff)],
    planes: &mut [Vec<u32>],
    w: usize,
    h: usize,
    precision: u32,
    predictor: u8,
    pt: u32,
    restart_interval: usize,
) -> Result<usize> {
    let mut bits = Bits { d, pos: 0, acc: 0, n: 0, hit_marker: false };
    let mask: i32 = if precision - pt >= 32 { -1 } else { ((1i64 << (precision - pt)) - 1) as i32 };
    let initial: i32 = 1 << (precision - pt - 1);
    let mut mcu = 0usize;
    let mut first_row_of_interval = 0usize; // row where the current restart interval began
    let mut reset_pending = true;
    for y in 0..h {
        for x in 0..w {
            if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
                bits.restart();
                reset_pending = true;
            }
            if reset_pending {
                first_row_of_interval = y;
            }
            for (ci, huff) in scomp {
                let plane = &mut planes[*ci];
                let t = bits.decode(huff)? as u32;
                let diff: i32 = if t == 0 {
                    0
                } else if t == 16 {
                    32768
                } else if t > 16 {
                    return Err(Error::decode("JPEG lossless: difference category > 16"));
                } else {
                    let v = bits.get(t) as i32;
                    if v < (1 << (t - 1)) {
                        v - (1 << t) + 1
                    } else {
                        v
                    }
                };
                let pred: i32 = if reset_pending {
                    initial
                } else if y == first_row_of_interval {
                    // first line (of the scan or of the restart interval): left neighbour
                    if x == 0 {
                        (plane[(y - 1) * w] >> pt) as i32
                    } else {
                        (plane[y * w + x - 1] >> pt) as i32
                    }
                } else if x == 0 {
                    (plane[(y - 1) * w] >> pt) as i32
                } else {
                    let ra = (plane[y * w + x - 1] >> pt) as i32;
                    let rb = (plane[(y - 1) * w + x] >> pt) as i32;
                    let rc = (plane[(y - 1) * w + x - 1] >> pt) as i32;
                    match predictor {
                        1 => ra,
                        2 => rb,
                        3 => rc,
                        4 => ra + rb - rc,
                        5 => ra + ((rb - rc) >> 1),
                        6 => rb + ((ra - rc) >> 1),
                        7 => (ra + rb) >> 1,
                        _ => ra,
                    }
                };
                let v = (pred.wrapping_add(diff)) & mask;
                plane[y * w + x] = (v as u32) << pt;
            }
            reset_pending = false;
            mcu += 1;
        }
    }
    // position after the entropy-coded data: find the next marker that is not RST/stuffing
    let mut p = bits.pos.saturating_sub(0);
    while p + 1 < d.len() {
        if d[p] == 0xFF && d[p + 1] != 0x00 && !(0xD0..=0xD7).contains(&d[p + 1]) && d[p + 1] != 0xFF {
            break;
        }
        p += 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made 2x2, 8-bit, predictor 1 stream with a one-code Huffman table
    /// (category 0 only -> all differences 0 -> every sample equals 2^(P-1) = 128).
    #[test]
    fn constant_image() {
        let mut s = vec![0xFF, 0xD8];
        s.extend_from_slice(&[0xFF, 0xC3, 0, 11, 8, 0, 2, 0, 2, 1, 1, 0x11, 0]);
        // DHT: class 0 id 0, one code of length 1 -> value 0
        let mut dht = vec![0xFF, 0xC4, 0, 20, 0x00, 1];
        dht.extend_from_slice(&[0; 15]);
        dht.push(0);
        s.extend_from_slice(&dht);
        s.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0x00, 1, 0, 0]);
        s.push(0x00); // four '0' codes
        s.extend_from_slice(&[0xFF, 0xD9]);
        let (px, p) = decode(&s).unwrap();
        assert_eq!(p, 8);
        assert_eq!(px, vec![128, 128, 128, 128]);
    }
}
