//! RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, PackBits segments,
//! one segment per byte of each sample, most significant byte first.

use crate::error::{Error, Result};

/// PackBits-decode one segment into at most `n` bytes (a short segment comes back short: the caller
/// refuses it, as pydicom does, rather than inventing the missing pixels).
pub fn unpack_segment(src: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < src.len() && out.len() < n {
        let h = src[i] as i8;
        i += 1;
        if h >= 0 {
            let cnt = h as usize + 1;
            let end = (i + cnt).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if h != -128 {
            let cnt = 1 - h as isize;
            if i < src.len() {
                let b = src[i];
                i += 1;
                for _ in 0..cnt {
                    out.push(b);
                }
            }
        }
    }
    out.truncate(n);
    out
}

/// Decode one RLE frame into pixel-interleaved sample words.
pub fn decode(data: &[u8], rows: usize, cols: usize, spp: usize, bits_alloc: u32) -> Result<Vec<u32>> {
    if data.len() < 64 {
        return Err(Error::decode("RLE: frame shorter than its 64-byte header"));
    }
    let rd = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
    let nseg = rd(0);
    let bytes = ((bits_alloc as usize) + 7) / 8;
    if bits_alloc == 1 {
        return Err(Error::decode("RLE: BitsAllocated 1 is not supported"));
    }
    if nseg != spp * bytes {
        return Err(Error::decode(format!(
            "RLE: {} segments, expected {} ({} samples x {} bytes)",
            nseg,
            spp * bytes,
            spp,
            bytes
        )));
    }
    let offsets: Vec<usize> = (0..nseg).map(|k| rd(4 + 4 * k)).collect();
    let n = rows * cols;
    let mut out = vec![0u32; n * spp];
    for k in 0..nseg {
        let start = offsets[k];
        let end = if k + 1 < nseg { offsets[k + 1] } else { data.len() };
        if start > data.len() || end < start || end > data.len() {
            return Err(Error::decode("RLE: segment offset out of range"));
        }
        let seg = unpack_segment(&data[start..end], n);
        if seg.len() < n {
            return Err(Error::decode(format!(
                "RLE: segment {} decodes to {} bytes, expected {} (Rows x Columns)",
                k + 1,
                seg.len(),
                n
            )));
        }
        let s = k / bytes;
        let shift = 8 * (bytes - 1 - k % bytes);
        for (i, &b) in seg.iter().enumerate() {
            out[i * spp + s] |= (b as u32) << shift;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits() {
        // literal run of 3, a repeat of 4 x 0x07, a no-op, literal 1
        let src = [2u8, 1, 2, 3, 0xFD, 7, 0x80, 0, 9];
        assert_eq!(unpack_segment(&src, 8), vec![1, 2, 3, 7, 7, 7, 7, 9]);
    }

    #[test]
    fn sixteen_bit_two_segments() {
        // 1x2 image, 16 bits: MSB segment [0x01, 0x02], LSB segment [0x03, 0x04]
        let mut d = vec![0u8; 64];
        d[0] = 2;
        d[4] = 64;
        d[8] = 67;
        d.extend_from_slice(&[1, 0x01, 0x02]);
        d.extend_from_slice(&[1, 0x03, 0x04]);
        assert_eq!(decode(&d, 1, 2, 1, 16).unwrap(), vec![0x0103, 0x0204]);
    }

    #[test]
    fn short_segment_is_refused_not_padded() {
        // 1x4 image, 8 bits, but the segment holds 2 bytes (PS3.5 G.3.1: Rows x Columns bytes each)
        let mut d = vec![0u8; 64];
        d[0] = 1;
        d[4] = 64;
        d.extend_from_slice(&[1, 5, 6]);
        let err = decode(&d, 1, 4, 1, 8).unwrap_err();
        assert!(format!("{}", err).contains("decodes to 2 bytes, expected 4"), "{}", err);
        // a run longer than the frame is cut at Rows x Columns
        let mut e = vec![0u8; 64];
        e[0] = 1;
        e[4] = 64;
        e.extend_from_slice(&[0xFB, 9]); // 6 x 9
        assert_eq!(decode(&e, 1, 4, 1, 8).unwrap(), vec![9, 9, 9, 9]);
    }

    #[test]
    fn rgb_three_segments() {
        let mut d = vec![0u8; 64];
        d[0] = 3;
        d[4] = 64;
        d[8] = 66;
        d[12] = 68;
        d.extend_from_slice(&[0xFF, 10, 0xFF, 20, 0xFF, 30]); // repeats of 2
        assert_eq!(decode(&d, 1, 2, 3, 8).unwrap(), vec![10, 20, 30, 10, 20, 30]);
    }
}
