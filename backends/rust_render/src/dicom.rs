//! A small DICOM Part 10 reader (PS3.10 file format, PS3.5 data encoding).
//!
//! Reads the preamble and File Meta group, then the data set in implicit VR little endian,
//! explicit VR little/big endian or deflated explicit VR little endian. Sequences (defined and
//! undefined length) are parsed into nested data sets; encapsulated Pixel Data is kept as its
//! fragments. Values are kept as raw bytes and interpreted on access by the typed getters.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Read;

pub const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const TS_EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";
pub const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

pub const PIXEL_DATA: u32 = 0x7FE0_0010;

pub fn tag(group: u16, element: u16) -> u32 {
    ((group as u32) << 16) | element as u32
}

#[derive(Debug, Clone)]
pub enum Value {
    Bytes(Vec<u8>),
    Seq(Vec<DataSet>),
    /// Encapsulated pixel data: the Basic Offset Table, then the fragments.
    Encap { offsets: Vec<u8>, fragments: Vec<Vec<u8>> },
}

#[derive(Debug, Clone)]
pub struct Element {
    pub vr: [u8; 2],
    pub value: Value,
}

#[derive(Debug, Clone, Default)]
pub struct DataSet {
    pub elems: BTreeMap<u32, Element>,
    pub big_endian: bool,
}

impl DataSet {
    pub fn get(&self, t: u32) -> Option<&Element> {
        self.elems.get(&t)
    }
    pub fn contains(&self, t: u32) -> bool {
        self.elems.contains_key(&t)
    }
    pub fn bytes(&self, t: u32) -> Option<&[u8]> {
        match &self.get(t)?.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
    #[allow(dead_code)]
    pub fn vr(&self, t: u32) -> Option<[u8; 2]> {
        self.get(t).map(|e| e.vr)
    }
    /// A text value (trailing/leading spaces and NULs trimmed); multi-values stay joined by '\'.
    pub fn str(&self, t: u32) -> Option<String> {
        let b = self.bytes(t)?;
        let s = String::from_utf8_lossy(b);
        Some(s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
    }
    /// Numbers from a DS/IS text value, or from a binary US/SS/UL/SL/FL/FD value.
    pub fn f64s(&self, t: u32) -> Option<Vec<f64>> {
        let e = self.get(t)?;
        let b = match &e.value {
            Value::Bytes(b) => b,
            _ => return None,
        };
        match &e.vr {
            b"DS" | b"IS" | b"CS" | b"LO" | b"SH" | b"ST" => {
                let s = String::from_utf8_lossy(b);
                let v: Vec<f64> = s
                    .split('\\')
                    .filter_map(|p| {
                        let p = p.trim_matches(|c: char| c == ' ' || c == '\0');
                        if p.is_empty() {
                            None
                        } else {
                            p.parse::<f64>().ok()
                        }
                    })
                    .collect();
                Some(v)
            }
            b"FD" => Some(b.chunks_exact(8).map(|c| self.rd_f64(c)).collect()),
            b"FL" => Some(b.chunks_exact(4).map(|c| f32::from_bits(self.rd_u32(c)) as f64).collect()),
            b"SL" => Some(b.chunks_exact(4).map(|c| self.rd_u32(c) as i32 as f64).collect()),
            b"UL" => Some(b.chunks_exact(4).map(|c| self.rd_u32(c) as f64).collect()),
            b"SS" => Some(b.chunks_exact(2).map(|c| self.rd_u16(c) as i16 as f64).collect()),
            b"US" | b"OW" | b"xs" => Some(b.chunks_exact(2).map(|c| self.rd_u16(c) as f64).collect()),
            _ => None,
        }
    }
    pub fn f64(&self, t: u32) -> Option<f64> {
        self.f64s(t).and_then(|v| v.first().copied())
    }
    /// Unsigned 16-bit values (US, or US/SS ambiguous values read unsigned).
    pub fn u16s(&self, t: u32) -> Option<Vec<u16>> {
        let e = self.get(t)?;
        match (&e.value, &e.vr) {
            (Value::Bytes(b), b"IS") | (Value::Bytes(b), b"DS") => {
                let s = String::from_utf8_lossy(b);
                Some(s.split('\\').filter_map(|p| p.trim().parse::<f64>().ok()).map(|f| f as i64 as u16).collect())
            }
            (Value::Bytes(b), _) => Some(b.chunks_exact(2).map(|c| self.rd_u16(c)).collect()),
            _ => None,
        }
    }
    pub fn u16(&self, t: u32) -> Option<u16> {
        self.u16s(t).and_then(|v| v.first().copied())
    }
    /// An integer from US / IS / UL / SS values.
    pub fn int(&self, t: u32) -> Option<i64> {
        let e = self.get(t)?;
        match &e.vr {
            b"US" | b"xs" | b"OW" => self.u16(t).map(|v| v as i64),
            b"SS" => self.u16(t).map(|v| v as i16 as i64),
            _ => self.f64(t).map(|v| v as i64),
        }
    }
    pub fn seq(&self, t: u32) -> Option<&[DataSet]> {
        match &self.get(t)?.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }
    pub fn rd_u16(&self, c: &[u8]) -> u16 {
        if self.big_endian {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_le_bytes([c[0], c[1]])
        }
    }
    pub fn rd_u32(&self, c: &[u8]) -> u32 {
        let a = [c[0], c[1], c[2], c[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn rd_f64(&self, c: &[u8]) -> f64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&c[..8]);
        if self.big_endian {
            f64::from_be_bytes(a)
        } else {
            f64::from_le_bytes(a)
        }
    }
}

/// A parsed file: meta information and the main data set.
pub struct DicomFile {
    pub transfer_syntax: String,
    pub ds: DataSet,
}

#[derive(Clone, Copy)]
struct Enc {
    explicit: bool,
    big: bool,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// VRs with a 4-byte length in explicit VR encoding.
fn long_vr(vr: &[u8; 2]) -> bool {
    matches!(
        vr,
        b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"OD" | b"OL" | b"OV" | b"SV" | b"UV" | b"UC" | b"UR"
    )
}

/// The VR of a tag in implicit VR encoding, for the tags the renderer reads (others: "UN").
pub fn implicit_vr(t: u32) -> [u8; 2] {
    let g = (t >> 16) as u16;
    let e = (t & 0xFFFF) as u16;
    if (0x6000..=0x601E).contains(&g) && g % 2 == 0 {
        return match e {
            0x0010 | 0x0011 | 0x0100 | 0x0102 => *b"US",
            0x0050 => *b"SS",
            0x0015 => *b"IS",
            0x0051 => *b"US",
            0x0040 => *b"CS",
            0x3000 => *b"OW",
            _ => *b"UN",
        };
    }
    match t {
        0x0002_0010 | 0x0008_0060 | 0x0028_0004 | 0x0028_1056 | 0x2050_0020 | 0x0028_3003 | 0x0028_1055 => *b"CS",
        0x0028_0002 | 0x0028_0006 | 0x0028_0010 | 0x0028_0011 | 0x0028_0100 | 0x0028_0101 | 0x0028_0102
        | 0x0028_0103 => *b"US",
        0x0028_0008 => *b"IS",
        0x0028_1050 | 0x0028_1051 | 0x0028_1052 | 0x0028_1053 => *b"DS",
        0x0028_1101 | 0x0028_1102 | 0x0028_1103 | 0x0028_3002 => *b"xs",
        0x0028_1201 | 0x0028_1202 | 0x0028_1203 | 0x0028_1221 | 0x0028_1222 | 0x0028_1223 | 0x0028_3006 => *b"OW",
        0x0028_3000 | 0x0028_3010 | 0x5200_9229 | 0x5200_9230 | 0x0028_9145 | 0x0028_9132 | 0x0028_9110 => *b"SQ",
        0x7FE0_0010 => *b"OW",
        _ => *b"UN",
    }
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn u16(&mut self, big: bool) -> Option<u16> {
        if self.remaining() < 2 {
            return None;
        }
        let b = [self.buf[self.pos], self.buf[self.pos + 1]];
        self.pos += 2;
        Some(if big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }
    fn u32(&mut self, big: bool) -> Option<u32> {
        if self.remaining() < 4 {
            return None;
        }
        let b = [self.buf[self.pos], self.buf[self.pos + 1], self.buf[self.pos + 2], self.buf[self.pos + 3]];
        self.pos += 4;
        Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.remaining() < n {
            return None;
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }

    /// Read elements until the end of the buffer, an item delimiter (returned true) or `stop_at` tag.
    fn read_dataset(&mut self, enc: Enc, ds: &mut DataSet, stop_group_after: Option<u16>, depth: u32) -> Result<bool> {
        if depth > 64 {
            return Err(Error::not_dicom("sequences nested too deeply"));
        }
        loop {
            if self.remaining() == 0 {
                return Ok(false);
            }
            if self.remaining() < 8 {
                // trailing padding
                return Ok(false);
            }
            let save = self.pos;
            let g = self.u16(enc.big).unwrap();
            if let Some(sg) = stop_group_after {
                if g != sg {
                    self.pos = save;
                    return Ok(false);
                }
            }
            let e = self.u16(enc.big).unwrap();
            let t = tag(g, e);
            if g == 0xFFFE {
                let _len = self.u32(enc.big).ok_or_else(|| Error::not_dicom("truncated delimiter"))?;
                if e == 0xE00D {
                    return Ok(true);
                }
                if e == 0xE0DD {
                    return Ok(true);
                }
                continue;
            }
            let (vr, len) = if enc.explicit && g != 0xFFFE {
                let vb = self.take(2).ok_or_else(|| Error::not_dicom("truncated element"))?;
                let mut vr = [vb[0], vb[1]];
                if !vr.iter().all(|c| c.is_ascii_uppercase()) {
                    // Not a valid VR: treat as implicit (some files switch); re-read
                    self.pos -= 2;
                    let len = self.u32(enc.big).ok_or_else(|| Error::not_dicom("truncated element"))?;
                    vr = implicit_vr(t);
                    (vr, len)
                } else if long_vr(&vr) {
                    self.take(2).ok_or_else(|| Error::not_dicom("truncated element"))?;
                    (vr, self.u32(enc.big).ok_or_else(|| Error::not_dicom("truncated element"))?)
                } else {
                    (vr, self.u16(enc.big).ok_or_else(|| Error::not_dicom("truncated element"))? as u32)
                }
            } else {
                (implicit_vr(t), self.u32(enc.big).ok_or_else(|| Error::not_dicom("truncated element"))?)
            };
            if t == PIXEL_DATA && len == 0xFFFF_FFFF {
                let v = self.read_encapsulated(enc)?;
                ds.elems.insert(t, Element { vr, value: v });
                continue;
            }
            let is_seq = &vr == b"SQ"
                || (len == 0xFFFF_FFFF)
                || ((&vr == b"UN") && len >= 8 && self.looks_like_items(enc.big && enc.explicit));
            if is_seq {
                // UN sequences are implicit VR little endian (PS3.5 6.2.2)
                let sub_enc = if &vr == b"UN" { Enc { explicit: false, big: false } } else { enc };
                let items = self.read_sequence(sub_enc, len, depth)?;
                ds.elems.insert(t, Element { vr: *b"SQ", value: Value::Seq(items) });
                continue;
            }
            let len = len as usize;
            let data = match self.take(len) {
                Some(d) => d,
                None => {
                    if t == PIXEL_DATA {
                        return Err(Error::decode("Pixel Data is truncated"));
                    }
                    // truncated file: keep what we have and stop
                    let rest = self.take(self.remaining()).unwrap_or(&[]);
                    ds.elems.insert(t, Element { vr, value: Value::Bytes(rest.to_vec()) });
                    return Ok(false);
                }
            };
            ds.elems.insert(t, Element { vr, value: Value::Bytes(data.to_vec()) });
        }
    }

    fn looks_like_items(&self, big: bool) -> bool {
        if self.remaining() < 4 {
            return false;
        }
        let b = &self.buf[self.pos..self.pos + 4];
        let (g, e) = if big {
            (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]]))
        } else {
            (u16::from_le_bytes([b[0], b[1]]), u16::from_le_bytes([b[2], b[3]]))
        };
        g == 0xFFFE && e == 0xE000
    }

    fn read_sequence(&mut self, enc: Enc, len: u32, depth: u32) -> Result<Vec<DataSet>> {
        let mut items = Vec::new();
        let end = if len == 0xFFFF_FFFF { usize::MAX } else { self.pos.saturating_add(len as usize) };
        while self.pos < end && self.remaining() >= 8 {
            let g = self.u16(enc.big).unwrap();
            let e = self.u16(enc.big).unwrap();
            let ilen = self.u32(enc.big).unwrap();
            if g != 0xFFFE {
                return Err(Error::not_dicom(format!("bad item tag ({:04X},{:04X}) in a sequence", g, e)));
            }
            match e {
                0xE0DD => break,
                0xE000 => {
                    let mut item = DataSet { big_endian: enc.big, ..Default::default() };
                    if ilen == 0xFFFF_FFFF {
                        self.read_dataset(enc, &mut item, None, depth + 1)?;
                    } else {
                        let n = ilen as usize;
                        let data = self.take(n).ok_or_else(|| Error::not_dicom("truncated sequence item"))?;
                        let mut sub = Reader { buf: data, pos: 0 };
                        sub.read_dataset(enc, &mut item, None, depth + 1)?;
                    }
                    items.push(item);
                }
                _ => {}
            }
        }
        Ok(items)
    }

    fn read_encapsulated(&mut self, enc: Enc) -> Result<Value> {
        let mut offsets = None;
        let mut fragments = Vec::new();
        loop {
            if self.remaining() < 8 {
                break; // missing sequence delimiter: accept what we have
            }
            let g = self.u16(enc.big).unwrap();
            let e = self.u16(enc.big).unwrap();
            let len = self.u32(enc.big).unwrap();
            if g != 0xFFFE {
                return Err(Error::decode(format!("bad item tag ({:04X},{:04X}) in encapsulated Pixel Data", g, e)));
            }
            if e == 0xE0DD {
                break;
            }
            if e != 0xE000 {
                continue;
            }
            let n = (len as usize).min(self.remaining());
            let data = self.take(n).unwrap().to_vec();
            if offsets.is_none() {
                offsets = Some(data);
            } else {
                fragments.push(data);
            }
        }
        Ok(Value::Encap { offsets: offsets.unwrap_or_default(), fragments })
    }
}

/// Parse a Part 10 file (or a bare data set without preamble, as many old files are).
pub fn parse(buf: &[u8]) -> Result<DicomFile> {
    let mut r = Reader { buf, pos: 0 };
    let mut meta = DataSet::default();
    let has_preamble = buf.len() >= 132 && &buf[128..132] == b"DICM";
    if has_preamble {
        r.pos = 132;
        r.read_dataset(Enc { explicit: true, big: false }, &mut meta, Some(0x0002), 0)?;
    } else if buf.len() >= 4 && &buf[0..4] == b"DICM" {
        r.pos = 4;
        r.read_dataset(Enc { explicit: true, big: false }, &mut meta, Some(0x0002), 0)?;
    } else {
        // no preamble: guess the encoding from the first element
        if buf.len() < 8 {
            return Err(Error::not_dicom("file too short to be DICOM"));
        }
        let g_le = u16::from_le_bytes([buf[0], buf[1]]);
        let g_be = u16::from_be_bytes([buf[0], buf[1]]);
        let plausible = |g: u16| g == 0x0002 || g == 0x0008 || g == 0x0010 || g == 0x0018 || g == 0x0020 || g == 0x0028;
        if g_le == 0x0002 {
            r.read_dataset(Enc { explicit: true, big: false }, &mut meta, Some(0x0002), 0)?;
        } else if !plausible(g_le) && !plausible(g_be) {
            return Err(Error::not_dicom("no DICM prefix and no recognisable data set"));
        }
    }
    let mut ts = meta.str(0x0002_0010).unwrap_or_default();
    if ts.is_empty() {
        // no meta or no transfer syntax: sniff explicit vs implicit and the byte order
        let start = r.pos;
        let b = &buf[start..];
        if b.len() < 6 {
            return Err(Error::not_dicom("no data set"));
        }
        let explicit = b[4].is_ascii_uppercase() && b[5].is_ascii_uppercase();
        let big = u16::from_le_bytes([b[0], b[1]]) > 0x00FF && u16::from_be_bytes([b[0], b[1]]) <= 0x00FF;
        ts = match (explicit, big) {
            (true, true) => TS_EXPLICIT_BE,
            (true, false) => TS_EXPLICIT_LE,
            _ => TS_IMPLICIT_LE,
        }
        .to_string();
    }
    let enc = match ts.as_str() {
        TS_IMPLICIT_LE => Enc { explicit: false, big: false },
        TS_EXPLICIT_BE => Enc { explicit: true, big: true },
        _ => Enc { explicit: true, big: false },
    };
    let mut ds = DataSet { big_endian: enc.big, ..Default::default() };
    if ts == TS_DEFLATED {
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&buf[r.pos..])
            .read_to_end(&mut inflated)
            .map_err(|e| Error::not_dicom(format!("deflated data set could not be inflated: {}", e)))?;
        let mut r2 = Reader { buf: &inflated, pos: 0 };
        r2.read_dataset(enc, &mut ds, None, 0)?;
    } else {
        r.read_dataset(enc, &mut ds, None, 0)?;
    }
    if ds.elems.is_empty() {
        return Err(Error::not_dicom("empty data set"));
    }
    // A real data set has at least one element outside the meta group
    Ok(DicomFile { transfer_syntax: ts, ds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el_le(g: u16, e: u16, vr: &[u8; 2], val: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&g.to_le_bytes());
        v.extend_from_slice(&e.to_le_bytes());
        v.extend_from_slice(vr);
        if long_vr(vr) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(val.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(val.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(val);
        v
    }

    #[test]
    fn parses_explicit_le_with_meta_and_sequence() {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        f.extend(el_le(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
        f.extend(el_le(0x0028, 0x0010, b"US", &4u16.to_le_bytes()));
        f.extend(el_le(0x0028, 0x1050, b"DS", b"40\\50 "));
        // undefined length sequence with one undefined length item
        f.extend_from_slice(&0x0028u16.to_le_bytes());
        f.extend_from_slice(&0x3010u16.to_le_bytes());
        f.extend_from_slice(b"SQ\0\0");
        f.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        f.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        f.extend(el_le(0x0028, 0x3002, b"US", &[3, 0, 0, 0, 8, 0]));
        f.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        f.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        f.extend(el_le(0x0028, 0x0011, b"US", &5u16.to_le_bytes()));
        let file = parse(&f).unwrap();
        assert_eq!(file.transfer_syntax, TS_EXPLICIT_LE);
        assert_eq!(file.ds.u16(tag(0x0028, 0x0010)), Some(4));
        assert_eq!(file.ds.u16(tag(0x0028, 0x0011)), Some(5));
        assert_eq!(file.ds.f64s(tag(0x0028, 0x1050)), Some(vec![40.0, 50.0]));
        let items = file.ds.seq(tag(0x0028, 0x3010)).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].u16s(tag(0x0028, 0x3002)), Some(vec![3, 0, 8]));
    }

    #[test]
    fn rejects_text() {
        assert!(parse(b"hello world, this is not DICOM at all").is_err());
    }
}
