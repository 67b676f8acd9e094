//! The contract's `to_image` options (contract/options.py) and their validation.

use crate::error::{Error, Result};
use serde_json::Value as J;

#[derive(Debug, Clone, PartialEq)]
pub enum FrameSel {
    One(usize),
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlays {
    All,
    None,
    Planes(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OverlayValue {
    Gray(u32),
    Rgb([u8; 3]),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub frame: FrameSel,
    pub format: Option<String>,
    pub bit_depth: u32,
    pub quality: Option<u8>,
    pub png_compression: Option<u8>,
    pub window: Option<(f64, f64)>,
    pub window_preset: Option<String>,
    pub voi_function: Option<String>,
    pub voi: String,
    pub voi_index: Option<usize>,
    pub modality_lut: bool,
    pub presentation: String,
    pub overlays: Overlays,
    pub overlay_value: Option<OverlayValue>,
    /// A well-known palette's option name (given by name or SOP Instance UID).
    pub colormap: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frame: FrameSel::One(0),
            format: None,
            bit_depth: 8,
            quality: None,
            png_compression: None,
            window: None,
            window_preset: None,
            voi_function: None,
            voi: "auto".into(),
            voi_index: None,
            modality_lut: true,
            presentation: "auto".into(),
            overlays: Overlays::All,
            overlay_value: None,
            colormap: None,
        }
    }
}

pub const PRESETS: &[(&str, f64, f64)] = &[
    ("soft_tissue", 40.0, 400.0),
    ("lung", -600.0, 1500.0),
    ("bone", 400.0, 1800.0),
    ("brain", 40.0, 80.0),
    ("liver", 60.0, 150.0),
    ("mediastinum", 50.0, 350.0),
];

pub fn format_from_extension(path: &str) -> Option<&'static str> {
    let l = path.to_lowercase();
    for (ext, f) in [
        (".png", "png"),
        (".jpg", "jpeg"),
        (".jpeg", "jpeg"),
        (".tif", "tiff"),
        (".tiff", "tiff"),
        (".pgm", "pnm"),
        (".ppm", "pnm"),
        (".pnm", "pnm"),
    ] {
        if l.ends_with(ext) {
            return Some(f);
        }
    }
    None
}

fn bad(field: &str, m: impl Into<String>) -> Error {
    Error::invalid(&format!("options.{}", field), m)
}

/// A partially built request: the window centre and width may arrive separately.
#[derive(Default)]
pub struct Builder {
    pub o: Options,
    pub center: Option<f64>,
    pub width: Option<f64>,
}

pub fn parse_colour(s: &str) -> Option<[u8; 3]> {
    let b = s.as_bytes();
    if b.len() != 7 || b[0] != b'#' || !s[1..].chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
    Some([h(1)?, h(3)?, h(5)?])
}

impl Builder {
    /// Set one option from its JSON value (batch mode); `key` is the contract's name.
    pub fn set_json(&mut self, key: &str, v: &J) -> Result<()> {
        let o = &mut self.o;
        let int = |v: &J| -> Option<i64> { if v.is_boolean() { None } else { v.as_i64() } };
        let num = |v: &J| -> Option<f64> { if v.is_boolean() { None } else { v.as_f64() } };
        let text = |v: &J| v.as_str().map(|s| s.to_string());
        match key {
            "frame" => {
                o.frame = match v {
                    J::String(s) if s == "all" => FrameSel::All,
                    _ => match int(v) {
                        Some(n) if n >= 0 => FrameSel::One(n as usize),
                        _ => return Err(bad("frame", "frame must be a 0-based integer >= 0 or \"all\"")),
                    },
                }
            }
            "format" => {
                o.format = match v {
                    J::Null => None,
                    J::String(s) if ["png", "jpeg", "tiff", "pnm"].contains(&s.as_str()) => Some(s.clone()),
                    _ => return Err(bad("format", "format must be png, jpeg, tiff or pnm")),
                }
            }
            "bit_depth" => {
                o.bit_depth = match int(v) {
                    Some(8) => 8,
                    Some(16) => 16,
                    _ => return Err(bad("bit_depth", "bit_depth must be 8 or 16")),
                }
            }
            "quality" => {
                o.quality = match v {
                    J::Null => None,
                    _ => match int(v) {
                        Some(q) if (1..=100).contains(&q) => Some(q as u8),
                        _ => return Err(bad("quality", "quality must be an integer 1..100")),
                    },
                }
            }
            "png_compression" => {
                o.png_compression = match v {
                    J::Null => None,
                    _ => match int(v) {
                        Some(q) if (0..=9).contains(&q) => Some(q as u8),
                        _ => return Err(bad("png_compression", "png_compression must be an integer 0..9")),
                    },
                }
            }
            "window_center" => {
                self.center = match v {
                    J::Null => None,
                    _ => Some(num(v).ok_or_else(|| bad("window_center", "window_center must be a number"))?),
                }
            }
            "window_width" => {
                self.width = match v {
                    J::Null => None,
                    _ => match num(v) {
                        Some(w) if w > 0.0 => Some(w),
                        _ => return Err(bad("window_width", "window_width must be a number > 0")),
                    },
                }
            }
            "window_preset" => {
                o.window_preset = match v {
                    J::Null => None,
                    J::String(s) if PRESETS.iter().any(|p| p.0 == s) => Some(s.clone()),
                    _ => return Err(bad("window_preset", "unknown window_preset")),
                }
            }
            "voi_function" => {
                o.voi_function = match v {
                    J::Null => None,
                    J::String(s) if ["linear", "linear_exact", "sigmoid"].contains(&s.as_str()) => Some(s.clone()),
                    _ => return Err(bad("voi_function", "voi_function must be linear, linear_exact or sigmoid")),
                }
            }
            "voi" => {
                o.voi = match text(v) {
                    Some(s) if ["auto", "window", "lut", "minmax", "none"].contains(&s.as_str()) => s,
                    _ => return Err(bad("voi", "voi must be auto, window, lut, minmax or none")),
                }
            }
            "voi_index" => {
                o.voi_index = match v {
                    J::Null => None,
                    _ => match int(v) {
                        Some(i) if i >= 0 => Some(i as usize),
                        _ => return Err(bad("voi_index", "voi_index must be an integer >= 0")),
                    },
                }
            }
            "modality_lut" => o.modality_lut = v.as_bool().ok_or_else(|| bad("modality_lut", "modality_lut must be true or false"))?,
            "colormap" => {
                let known = |s: &str| {
                    crate::palettes::PALETTES.iter().find(|p| p.0 == s || p.1 == s).map(|p| p.0.to_string())
                };
                o.colormap = match v {
                    J::Null => None,
                    _ => match text(v).as_deref().and_then(known) {
                        Some(name) => Some(name),
                        None => return Err(bad("colormap", "colormap must be a well-known palette of PS3.6 Annex B (name or SOP Instance UID)")),
                    },
                }
            }
            "presentation" => {
                o.presentation = match text(v) {
                    Some(s) if ["auto", "identity", "inverse"].contains(&s.as_str()) => s,
                    _ => return Err(bad("presentation", "presentation must be auto, identity or inverse")),
                }
            }
            "overlays" => {
                o.overlays = match v {
                    J::Bool(true) => Overlays::All,
                    J::Bool(false) => Overlays::None,
                    J::Array(a) => {
                        let mut planes = Vec::new();
                        for p in a {
                            match int(p) {
                                Some(k) if (0..=15).contains(&k) => planes.push(k as u8),
                                _ => return Err(bad("overlays", "overlay planes are 0-based integers 0..15")),
                            }
                        }
                        Overlays::Planes(planes)
                    }
                    _ => return Err(bad("overlays", "overlays must be true, false or a list of planes")),
                }
            }
            "overlay_value" => {
                o.overlay_value = match v {
                    J::Null => None,
                    J::String(s) => Some(OverlayValue::Rgb(
                        parse_colour(s).ok_or_else(|| bad("overlay_value", "overlay_value is a gray level or a colour \"#rrggbb\""))?,
                    )),
                    _ => match int(v) {
                        Some(g) if g >= 0 => Some(OverlayValue::Gray(g as u32)),
                        _ => return Err(bad("overlay_value", "overlay_value is a gray level or a colour \"#rrggbb\"")),
                    },
                }
            }
            other => return Err(Error::invalid(&format!("options.{}", other), format!("unknown option {:?}", other))),
        }
        Ok(())
    }

    /// Cross-field checks of contract/options.py; resolves the preset.
    pub fn finish(mut self) -> Result<Options> {
        if let Some(p) = &self.o.window_preset {
            if self.center.is_some() || self.width.is_some() {
                return Err(bad("window_preset", "window_preset conflicts with an explicit window_center/window_width"));
            }
            let (_, c, w) = PRESETS.iter().find(|x| x.0 == p).unwrap();
            self.center = Some(*c);
            self.width = Some(*w);
        }
        let o = &mut self.o;
        match (self.center, self.width) {
            (Some(c), Some(w)) => o.window = Some((c, w)),
            (None, None) => {}
            _ => return Err(bad("window_width", "window_center and window_width go together: give both or neither")),
        }
        if o.window.is_some() && o.voi != "auto" && o.voi != "window" {
            return Err(bad("voi", format!("an explicit window conflicts with voi={:?}", o.voi)));
        }
        if o.window.is_some() && o.voi_index.is_some() {
            return Err(bad("voi_index", "voi_index selects a stored window or LUT; it conflicts with an explicit window"));
        }
        if o.voi_index.is_some() && o.voi != "window" && o.voi != "lut" {
            return Err(bad("voi_index", "voi_index needs voi \"window\" or \"lut\""));
        }
        if let Some((_, w)) = o.window {
            let f = o.voi_function.as_deref().unwrap_or("linear");
            if w < 1.0 && f == "linear" {
                return Err(bad("window_width", "a LINEAR window needs window_width >= 1 (PS3.3 C.11.2.1.2.1)"));
            }
        }
        if o.format.as_deref() == Some("jpeg") && o.bit_depth == 16 {
            return Err(bad("bit_depth", "jpeg output is 8-bit: bit_depth 16 needs png, tiff or pnm"));
        }
        if o.quality.is_some() && o.format.is_some() && o.format.as_deref() != Some("jpeg") {
            return Err(bad("quality", "quality applies to jpeg output only"));
        }
        if o.png_compression.is_some() && o.format.is_some() && o.format.as_deref() != Some("png") {
            return Err(bad("png_compression", "png_compression applies to png output only"));
        }
        if let Overlays::Planes(p) = &o.overlays {
            let mut s = p.clone();
            s.sort();
            s.dedup();
            if s.len() != p.len() {
                return Err(bad("overlays", "overlay planes are listed twice"));
            }
        }
        if let Some(OverlayValue::Gray(g)) = o.overlay_value {
            let limit = if o.bit_depth == 8 { 255 } else { 65535 };
            if g > limit {
                return Err(bad("overlay_value", format!("overlay_value must be 0..{} for bit_depth {}", limit, o.bit_depth)));
            }
        }
        Ok(self.o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: J) -> Result<Options> {
        let mut b = Builder::default();
        for (k, x) in v.as_object().unwrap() {
            b.set_json(k, x)?;
        }
        b.finish()
    }

    #[test]
    fn preset_resolves() {
        let o = build(json!({"window_preset": "lung"})).unwrap();
        assert_eq!(o.window, Some((-600.0, 1500.0)));
    }

    #[test]
    fn unknown_key_and_conflicts() {
        let e = build(json!({"colour": 1})).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_request", Some("options.colour")));
        let e = build(json!({"window_center": 1})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.window_width"));
        let e = build(json!({"window_center": 1, "window_width": 0.5})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.window_width"));
        assert!(build(json!({"window_center": 1, "window_width": 0.5, "voi_function": "sigmoid"})).is_ok());
        let e = build(json!({"format": "jpeg", "bit_depth": 16})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.bit_depth"));
        let e = build(json!({"overlays": [1, 1]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.overlays"));
        let e = build(json!({"frame": true})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("options.frame"));
    }
}
