//! The contract ops `stats` and `histogram` (contract/OPS.md): per-frame statistics and histograms of
//! the stored or modality values, with the numbers python_ref (numpy) produces, bit for bit:
//!
//! - sums are numpy's pairwise summation (`pairwise_sum`), so `mean` = sum / n and `std` (ddof 0) =
//!   sqrt(pairwise_sum((x - mean)^2) / n) round exactly as `ndarray.mean()` / `ndarray.std()` do;
//! - percentiles are numpy's `method="linear"` (Hyndman-Fan type 7) including its lerp, which computes
//!   `b - (b - a) * (1 - g)` when the weight g >= 0.5;
//! - percentile keys are Python's `format(p, "g")`;
//! - JSON objects keep the reference's key order (`Oj`), numbers are shortest round-trip (ryu).

use crate::dicom::DicomFile;
use crate::error::{Error, Result};
use crate::options::FrameSel;
use crate::pixels::{self, ImageInfo};
use crate::render;
use serde_json::{Map, Value as J};
use std::fmt;

/// numpy's `PW_BLOCKSIZE`: blocks up to this length are summed with 8 accumulators.
const PW_BLOCKSIZE: usize = 128;

pub const DEFAULT_PERCENTILES: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Modality,
    Stored,
}

impl Space {
    pub fn name(self) -> &'static str {
        match self {
            Space::Modality => "modality",
            Space::Stored => "stored",
        }
    }
}

/// What to compute: `stats` (percentiles) or `histogram` (bins, range).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Stats { percentiles: Vec<f64> },
    Histogram { bins: usize, range: Option<(f64, f64)> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpOptions {
    pub frame: FrameSel,
    pub values: Space,
    pub kind: Kind,
}

impl OpOptions {
    /// The contract's defaults of `op` (`stats` or `histogram`).
    pub fn defaults(op: &str) -> Result<OpOptions> {
        let kind = match op {
            "stats" => Kind::Stats { percentiles: DEFAULT_PERCENTILES.to_vec() },
            "histogram" => Kind::Histogram { bins: 256, range: None },
            other => return Err(Error::invalid("op", format!("unknown op {:?} (to_image, stats, histogram)", other))),
        };
        Ok(OpOptions { frame: FrameSel::All, values: Space::Modality, kind })
    }

    /// Build from the contract's option names and JSON values (batch mode and the command line).
    pub fn from_pairs<'a>(op: &str, pairs: impl IntoIterator<Item = (&'a str, &'a J)>) -> Result<OpOptions> {
        let mut o = OpOptions::defaults(op)?;
        for (k, v) in pairs {
            o.set(k, v)?;
        }
        Ok(o)
    }

    pub fn from_map(op: &str, map: &Map<String, J>) -> Result<OpOptions> {
        OpOptions::from_pairs(op, map.iter().map(|(k, v)| (k.as_str(), v)))
    }

    fn set(&mut self, key: &str, v: &J) -> Result<()> {
        let bad = |m: &str| Error::invalid(&format!("options.{}", key), m.to_string());
        let number = |v: &J| -> Option<f64> { if v.is_boolean() { None } else { v.as_f64().filter(|f| f.is_finite()) } };
        match (key, &mut self.kind) {
            ("frame", _) => {
                self.frame = match v {
                    J::String(s) if s == "all" => FrameSel::All,
                    _ => match v.as_u64().filter(|_| !v.is_boolean()) {
                        Some(n) => FrameSel::One(n as usize),
                        None => return Err(bad("frame must be a 0-based integer >= 0 or \"all\"")),
                    },
                }
            }
            ("values", _) => {
                self.values = match v.as_str() {
                    Some("modality") => Space::Modality,
                    Some("stored") => Space::Stored,
                    _ => return Err(bad("values must be \"modality\" or \"stored\"")),
                }
            }
            ("percentiles", Kind::Stats { percentiles }) => {
                let list = v.as_array().ok_or_else(|| bad("percentiles must be a list of numbers"))?;
                if list.len() > 101 {
                    return Err(bad("at most 101 percentiles"));
                }
                let mut out = Vec::with_capacity(list.len());
                for p in list {
                    match number(p) {
                        Some(p) if (0.0..=100.0).contains(&p) => out.push(p),
                        _ => return Err(bad("percentiles must be within 0..100")),
                    }
                }
                *percentiles = out;
            }
            ("bins", Kind::Histogram { bins, .. }) => {
                *bins = match v.as_u64().filter(|_| !v.is_boolean()) {
                    Some(n) if (1..=65536).contains(&n) => n as usize,
                    _ => return Err(bad("bins must be an integer 1..65536")),
                }
            }
            ("range", Kind::Histogram { range, .. }) => {
                *range = match v {
                    J::Null => None,
                    J::Array(a) if a.len() == 2 => match (number(&a[0]), number(&a[1])) {
                        (Some(lo), Some(hi)) if lo < hi => Some((lo, hi)),
                        _ => return Err(bad("range must be [lo, hi] with lo < hi")),
                    },
                    _ => return Err(bad("range must be [lo, hi] with lo < hi")),
                }
            }
            _ => return Err(bad(&format!("unknown option {:?}", key))),
        }
        Ok(())
    }
}

// ---- JSON with ordered keys ----

/// JSON whose objects keep their keys in insertion order (serde_json's `Map` sorts them here).
#[derive(Debug, Clone, PartialEq)]
pub enum Oj {
    V(J),
    Obj(Vec<(String, Oj)>),
    Arr(Vec<Oj>),
}

impl Oj {
    pub fn f(x: f64) -> Oj {
        Oj::V(J::from(x))
    }
    pub fn u(x: usize) -> Oj {
        Oj::V(J::from(x as u64))
    }
    pub fn s(x: &str) -> Oj {
        Oj::V(J::from(x))
    }
    /// An object from pairs; a repeated key keeps its first position and takes the last value (like a dict).
    pub fn obj(pairs: Vec<(String, Oj)>) -> Oj {
        let mut out: Vec<(String, Oj)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match out.iter_mut().find(|(ek, _)| *ek == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Oj::Obj(out)
    }
}

impl fmt::Display for Oj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Oj::V(v) => write!(f, "{}", v),
            Oj::Arr(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", item)?;
                }
                f.write_str("]")
            }
            Oj::Obj(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{}", J::from(k.as_str()), v)?;
                }
                f.write_str("}")
            }
        }
    }
}

// ---- numpy's arithmetic ----

/// numpy's pairwise summation of float64 (`DOUBLE_pairwise_sum`, numpy/_core/src/umath/loops_utils.h.src):
/// under 8 values a plain loop from 0.0; up to 128 eight accumulators combined as
/// ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) then the remainder; above, split at n/2 rounded down to a multiple of 8.
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= PW_BLOCKSIZE {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `ndarray.mean()`: the pairwise sum divided by the count.
pub fn mean(a: &[f64]) -> f64 {
    pairwise_sum(a) / a.len() as f64
}

/// `ndarray.std()` (ddof 0): sqrt(pairwise_sum((x - mean)^2) / n), the mean as `mean` computes it.
pub fn std(a: &[f64], mean: f64) -> f64 {
    let sq: Vec<f64> = a
        .iter()
        .map(|&x| {
            let d = x - mean;
            d * d
        })
        .collect();
    (pairwise_sum(&sq) / a.len() as f64).sqrt()
}

/// numpy's `percentile(..., method="linear")` of sorted values: rank (n-1)*p/100, then its lerp
/// (`a + (b-a)*g`, or `b - (b-a)*(1-g)` when g >= 0.5); a rank at or past the last index is the maximum.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let q = p / 100.0;
    let vi = (n - 1) as f64 * q;
    if vi >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let prev = vi.floor();
    let g = vi - prev;
    let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
    let diff = b - a;
    if g >= 0.5 {
        b - diff * (1.0 - g)
    } else {
        a + diff * g
    }
}

/// Python's `format(p, "g")`: 6 significant digits, trailing zeros dropped, exponent form below 1e-4
/// or from 1e6 (`1e-05`, `1.5e+06`).
pub fn percentile_key(p: f64) -> String {
    if p == 0.0 {
        return if p.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{:.5e}", p); // d.ddddde[-]x, rounded to 6 significant digits
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if (-4..6).contains(&exp) {
        let fixed = format!("{:.*}", (5 - exp) as usize, p);
        strip_zeros(&fixed)
    } else {
        let m = strip_zeros(mantissa);
        format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

// ---- per frame ----

/// count, zero_count, unique, min, max, mean, std, percentiles of one frame's values (not empty).
pub fn frame_stats(values: &[f64], percentiles: &[f64]) -> Vec<(String, Oj)> {
    let n = values.len();
    let m = mean(values);
    let s = std(values, m);
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| a.total_cmp(b));
    let zero = values.iter().filter(|&&x| x == 0.0).count();
    let unique = 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count();
    let pct = percentiles.iter().map(|&p| (percentile_key(p), Oj::f(percentile_sorted(&sorted, p)))).collect();
    vec![
        ("count".into(), Oj::u(n)),
        ("zero_count".into(), Oj::u(zero)),
        ("unique".into(), Oj::u(unique)),
        ("min".into(), Oj::f(sorted[0])),
        ("max".into(), Oj::f(sorted[n - 1])),
        ("mean".into(), Oj::f(m)),
        ("std".into(), Oj::f(s)),
        ("percentiles".into(), Oj::obj(pct)),
    ]
}

/// The bins' [lo, hi]: the requested range, else min..max (each widened by 0.5 when they are equal).
pub fn histogram_range(values: &[f64], requested: Option<(f64, f64)>) -> (f64, f64) {
    if let Some(r) = requested {
        return r;
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
    pub below: u64,
    pub above: u64,
}

/// x in [lo, hi] falls in bin floor(((x - lo) * bins) / (hi - lo)) clamped to bins - 1; the rest below/above.
pub fn histogram(values: &[f64], bins: usize, requested: Option<(f64, f64)>) -> Histogram {
    let (lo, hi) = histogram_range(values, requested);
    let mut h = Histogram { lo, hi, counts: vec![0; bins], below: 0, above: 0 };
    let width = hi - lo;
    for &x in values {
        if x < lo {
            h.below += 1;
        } else if x > hi {
            h.above += 1;
        } else if x >= lo && x <= hi {
            let i = (((x - lo) * bins as f64) / width).floor();
            let i = if i <= 0.0 { 0 } else { (i as usize).min(bins - 1) };
            h.counts[i] += 1;
        }
    }
    h
}

fn histogram_json(h: &Histogram, bins: usize) -> Vec<(String, Oj)> {
    vec![
        ("range".into(), Oj::Arr(vec![Oj::f(h.lo), Oj::f(h.hi)])),
        ("bins".into(), Oj::u(bins)),
        ("counts".into(), Oj::Arr(h.counts.iter().map(|&c| Oj::u(c as usize)).collect())),
        ("below".into(), Oj::u(h.below as usize)),
        ("above".into(), Oj::u(h.above as usize)),
    ]
}

/// Colour as python_ref's preflight sees it: several samples, or an RGB / YBR / PALETTE photometric.
pub fn is_colour(info: &ImageInfo) -> bool {
    info.spp > 1 || ["RGB", "YBR", "PALETTE"].iter().any(|p| info.photometric.starts_with(p))
}

/// The values of one frame in `space` and the modality transform that produced them
/// (`disabled` for stored values, `identity` for colour; else `lut`, `rescale` or `identity`).
pub fn frame_values(file: &DicomFile, info: &ImageInfo, frame: usize, space: Space) -> Result<(Vec<f64>, &'static str)> {
    let raw = pixels::decode_frame(file, info, frame)?;
    let n = info.rows * info.cols * info.spp;
    if raw.data.len() < n {
        return Err(Error::decode(format!("the decoded frame has {} samples, {} expected", raw.data.len(), n)).with_field("input"));
    }
    let stored = raw.data[..n].iter().map(|&r| pixels::stored_value(r, info.bits_stored, info.high_bit, info.signed));
    if space == Space::Stored {
        return Ok((stored.map(|v| v as f64).collect(), "disabled"));
    }
    if is_colour(info) {
        return Ok((stored.map(|v| v as f64).collect(), "identity"));
    }
    match render::modality_stage(&file.ds, info, frame, true)? {
        render::Modality::Lut(l) => Ok((stored.map(|v| render::lut_lookup(v, &l) as f64).collect(), "lut")),
        render::Modality::Rescale(s, b) => Ok((stored.map(|v| render::rescale(v as f64, s, b)).collect(), "rescale")),
        render::Modality::Identity | render::Modality::Disabled => Ok((stored.map(|v| v as f64).collect(), "identity")),
    }
}

/// Run `stats` or `histogram` on a file: the result object python_ref returns.
pub fn run(input: &str, o: &OpOptions) -> Result<Oj> {
    let file = crate::read_input(input)?;
    let info = pixels::image_info(&file.ds)?;
    pixels::check_size(&file, &info)?;
    let frames: Vec<usize> = match o.frame {
        FrameSel::One(f) if f >= info.frames => {
            return Err(Error::new(
                "frame_out_of_range",
                format!("frame {} is out of range: the file has {} frame(s) (0-based)", f, info.frames),
            )
            .with_field("options.frame"))
        }
        FrameSel::One(f) => vec![f],
        FrameSel::All => (0..info.frames).collect(),
    };
    let mut transform = "disabled";
    let mut out = Vec::with_capacity(frames.len());
    for f in frames {
        let (values, t) = frame_values(&file, &info, f, o.values)?;
        transform = t;
        let mut entry = vec![("frame".to_string(), Oj::u(f))];
        match &o.kind {
            Kind::Stats { percentiles } => entry.extend(frame_stats(&values, percentiles)),
            Kind::Histogram { bins, range } => entry.extend(histogram_json(&histogram(&values, *bins, *range), *bins)),
        }
        out.push(Oj::Obj(entry));
    }
    Ok(Oj::Obj(vec![
        ("values".into(), Oj::s(o.values.name())),
        ("modality_lut".into(), Oj::s(transform)),
        ("frames".into(), Oj::Arr(out)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_sum(a: &[f64]) -> f64 {
        a.iter().fold(0.0, |s, &x| s + x)
    }

    #[test]
    fn pairwise_sum_small_and_blocked() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        // 8..128 values: 8 accumulators. 0.1 x 10: r0 = r1 = 0.2, r2..r7 = 0.1
        // ((0.2+0.2)+(0.1+0.1))+((0.1+0.1)+(0.1+0.1)) = 0.6000000000000001 + 0.4 = 1.0
        let tenth = [0.1; 10];
        assert_eq!(pairwise_sum(&tenth), 1.0);
        assert_eq!(naive_sum(&tenth), 0.9999999999999999); // a plain loop would differ
        // 1e16 followed by ones: the accumulators keep the ones together
        let mut v = vec![1e16];
        v.extend(std::iter::repeat(1.0).take(15));
        // r0 = 1e16 + 1 (rounds to 1e16), r1..r7 = 2; res = ((1e16+2)+4)+(4+4) = 1e16+14
        assert_eq!(pairwise_sum(&v), 1e16 + 14.0);
        // above 128 values: split at n/2 rounded down to a multiple of 8
        let ones = vec![1.0; 1000];
        assert_eq!(pairwise_sum(&ones), 1000.0);
    }

    #[test]
    fn mean_std_hand_values() {
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let m = mean(&x);
        assert_eq!(m, 5.0);
        assert_eq!(std(&x, m), 2.0); // population std: sqrt(32 / 8)
        let y = [1.0, 2.0];
        assert_eq!(std(&y, mean(&y)), 0.5);
    }

    #[test]
    fn percentiles_type7() {
        let s = [1.0, 2.0, 3.0, 4.0];
        // rank = 3 * p / 100
        assert_eq!(percentile_sorted(&s, 0.0), 1.0);
        assert_eq!(percentile_sorted(&s, 50.0), 2.5);
        assert_eq!(percentile_sorted(&s, 25.0), 1.75);
        assert_eq!(percentile_sorted(&s, 100.0), 4.0);
        // rank 0.03: 1 + 1 * 0.03
        assert_eq!(percentile_sorted(&s, 1.0), 1.03);
        // rank 2.97, g >= 0.5: b - (b - a) * (1 - g) = 4 - 1 * (1 - 2.97 + 2)
        let g = 3.0 * 0.99 - 2.0;
        assert_eq!(percentile_sorted(&s, 99.0), 4.0 - (1.0 - g));
        assert_eq!(percentile_sorted(&[7.0], 30.0), 7.0);
        let t = [-100.0, 0.0, 10.0, 1000.0, 1000.0];
        assert_eq!(percentile_sorted(&t, 90.0), 1000.0);
        assert_eq!(percentile_sorted(&t, 10.0), -60.0); // rank 0.4: -100 + 100 * 0.4
    }

    #[test]
    fn percentile_keys_like_python_g() {
        for (p, k) in [
            (1.0, "1"),
            (2.5, "2.5"),
            (50.0, "50"),
            (100.0, "100"),
            (0.0, "0"),
            (99.9, "99.9"),
            (0.1, "0.1"),
            (33.333333333, "33.3333"),
            (12.34375, "12.3438"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000012345678, "1.23457e-05"),
            (99.99999999, "100"),
        ] {
            assert_eq!(percentile_key(p), k, "{}", p);
        }
    }

    #[test]
    fn stats_of_a_small_frame() {
        let v = [0.0, -100.0, 0.0, 100.0, 200.0, 2047.0];
        let fields = frame_stats(&v, &[50.0, 2.5, 50.0]);
        let j = Oj::Obj(fields).to_string();
        // mean 2247/6 = 374.5; deviations^2 sum: 374.5^2*2 + 474.5^2 + 274.5^2 + 174.5^2 + 1672.5^2
        let expect_std = ((374.5f64 * 374.5 * 2.0 + 474.5 * 474.5 + 274.5 * 274.5 + 174.5 * 174.5 + 1672.5 * 1672.5) / 6.0).sqrt();
        assert_eq!(
            j,
            format!(
                "{{\"count\":6,\"zero_count\":2,\"unique\":5,\"min\":-100.0,\"max\":2047.0,\"mean\":374.5,\"std\":{},\
                 \"percentiles\":{{\"50\":50.0,\"2.5\":-87.5}}}}",
                J::from(expect_std)
            )
        );
    }

    #[test]
    fn histogram_bins_and_outside() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, 5.0];
        let h = histogram(&v, 4, Some((0.0, 4.0)));
        assert_eq!(h.counts, vec![1, 1, 1, 2]); // 4 (== hi) is in the last bin
        assert_eq!((h.below, h.above), (1, 1));
        // default range: min..max
        let h = histogram(&[1.0, 2.0, 3.0], 2, None);
        assert_eq!((h.lo, h.hi, h.counts), (1.0, 3.0, vec![1, 2]));
        // a constant frame: widened by 0.5 each side, every value in the middle bin
        let h = histogram(&[7.0, 7.0], 3, None);
        assert_eq!((h.lo, h.hi, h.counts), (6.5, 7.5, vec![0, 2, 0]));
    }

    #[test]
    fn options_from_json() {
        let o = OpOptions::from_map("stats", serde_json::json!({"frame": 2, "values": "stored", "percentiles": [50]}).as_object().unwrap())
            .unwrap();
        assert_eq!(o.frame, FrameSel::One(2));
        assert_eq!(o.values, Space::Stored);
        assert_eq!(o.kind, Kind::Stats { percentiles: vec![50.0] });
        let e = OpOptions::from_map("stats", serde_json::json!({"bins": 3}).as_object().unwrap()).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_request", Some("options.bins")));
        let e = OpOptions::from_map("histogram", serde_json::json!({"range": [2, 1]}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.range"));
        let o = OpOptions::from_map("histogram", serde_json::json!({"range": [-1.5, 3], "bins": 10}).as_object().unwrap()).unwrap();
        assert_eq!(o.kind, Kind::Histogram { bins: 10, range: Some((-1.5, 3.0)) });
        assert_eq!(o.frame, FrameSel::All);
    }

    #[test]
    fn ordered_json_keeps_order_and_dedups() {
        let j = Oj::obj(vec![("b".into(), Oj::u(1)), ("a".into(), Oj::f(0.5)), ("b".into(), Oj::u(2))]);
        assert_eq!(j.to_string(), "{\"b\":2,\"a\":0.5}");
    }
}
