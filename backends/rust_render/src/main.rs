//! dicom-render: dcmharness's own DICOM renderer (see README.md and contract/SEMANTICS.md).

mod codecs;
mod dicom;
mod encode;
mod error;
mod jpeg_dct;
mod jpeg_enc;
mod jpeg_lossless;
mod options;
mod palettes;
mod pixels;
mod raw;
mod render;
mod rle;
mod stats;

use error::{Error, Result};
use options::{Builder, FrameSel, Options};
use serde_json::{json, Value as J};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const HELP: &str = "\
dicom-render: render a DICOM image to PNG/JPEG/TIFF/PNM (dcmharness contract/SEMANTICS.md)

Usage:
  dicom-render [options] [--] INPUT OUTPUT
  dicom-render --op stats|histogram [op options] [--] INPUT   (the result JSON on stdout)
  dicom-render --op decode [--frame N|all] [--color-space native|rgb] [--overwrite] [--] INPUT OUTPUT.npy
                                the stored values as .npy (contract/OPS.md decode); the result JSON on stdout
  dicom-render --batch            (JSON Lines requests on stdin, one JSON line answer each)

Options (the contract's to_image options):
  --frame N|all                 0-based frame, or all (OUTPUT becomes <stem>_<NNNN><suffix>)
  --format png|jpeg|tiff|pnm    default: from OUTPUT's extension, else png
  --bit-depth 8|16              output sample depth (16: png, tiff, pnm)
  --quality 1..100              JPEG quality (default 90)
  --png-compression 0..9        zlib level for PNG (default 1)
  --window-center C --window-width W
                                explicit window in modality units
  --window-preset NAME          soft_tissue, lung, bone, brain, liver, mediastinum
  --voi-function linear|linear_exact|sigmoid
  --voi auto|window|lut|minmax|none
  --voi-index N                 0-based stored window / VOI LUT (with --voi window|lut)
  --no-modality-lut             skip the modality LUT stage (rescale / LUT)
  --presentation auto|identity|inverse
  --colormap NAME|UID           pseudo-colour through a PS3.6 Annex B palette (hot_iron, pet, hot_metal_blue,
                                pet_20_step, spring, summer, fall, winter or 1.2.840.10008.1.5.1-8): RGB output
  --overlays all|none|0,2,5     overlay planes to burn in (default all)
  --overlay-value V             gray level, or #rrggbb on colour images
  --overwrite                   replace existing outputs
  -h, --help                    this text

Options of --op stats / --op histogram (contract/OPS.md; nothing is written, the result is printed):
  --frame N|all                 0-based frame, or all (the default: one entry per frame)
  --values modality|stored      modality values (after the Modality LUT stage, default) or stored values
  --percentiles P1,P2,...       stats: percentiles 0..100 (default 1,5,25,50,75,95,99; empty: none)
  --bins N                      histogram: 1..65536 bins (default 256)
  --range LO,HI                 histogram: the bins' range (default the frame's min and max)
  -V, --version                 print the version

On failure: exit status 1 and one line on stderr: error: <code>: <message>
";

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

fn main() {
    // one-line errors only: a panic becomes `error: internal_error: ...` (and a batch answer)
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match std::panic::catch_unwind(|| cli(args)) {
        Ok(r) => r,
        Err(p) => Err(Error::new("internal_error", format!("dicom-render crashed: {}", panic_text(&p)))),
    };
    std::process::exit(match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", e);
            if e.code == "invalid_request" && e.field.as_deref() == Some("argv") {
                2
            } else {
                1
            }
        }
    });
}

fn usage(m: impl Into<String>) -> Error {
    Error::invalid("argv", m)
}

fn cli(args: Vec<String>) -> Result<()> {
    let mut pairs: Vec<(String, J)> = Vec::new();
    let mut op = "to_image".to_string();
    let mut positional: Vec<String> = Vec::new();
    let mut overwrite = false;
    let mut batch = false;
    let mut i = 0;
    let mut only_positional = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_positional || !a.starts_with('-') || a == "-" {
            positional.push(a.clone());
            continue;
        }
        if a == "--" {
            only_positional = true;
            continue;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            let v = args.get(i).cloned().ok_or_else(|| usage(format!("{} needs a value", name)))?;
            i += 1;
            Ok(v)
        };
        let num = |s: &str, name: &str| -> Result<J> {
            if let Ok(n) = s.parse::<i64>() {
                return Ok(json!(n));
            }
            s.parse::<f64>().map(|f| json!(f)).map_err(|_| usage(format!("{} needs a number, got {:?}", name, s)))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{}", HELP);
                return Ok(());
            }
            "-V" | "--version" => {
                println!("dicom-render {}", VERSION);
                return Ok(());
            }
            "--batch" => batch = true,
            "--op" => op = value("--op")?,
            "--color-space" => pairs.push(("color_space".to_string(), J::String(value("--color-space")?))),
            "--values" => pairs.push(("values".to_string(), J::String(value("--values")?))),
            "--percentiles" => {
                let v = value("--percentiles")?;
                let mut list = Vec::new();
                for p in v.split(',').filter(|p| !p.trim().is_empty()) {
                    list.push(num(p.trim(), "--percentiles")?);
                }
                pairs.push(("percentiles".to_string(), J::Array(list)))
            }
            "--bins" => {
                let v = value("--bins")?;
                pairs.push(("bins".to_string(), num(&v, "--bins")?))
            }
            "--range" => {
                let v = value("--range")?;
                let parts: Vec<&str> = v.split(',').collect();
                if parts.len() != 2 {
                    return Err(usage(format!("--range needs LO,HI, got {:?}", v)));
                }
                pairs.push(("range".to_string(), J::Array(vec![num(parts[0].trim(), "--range")?, num(parts[1].trim(), "--range")?])))
            }
            "--overwrite" => overwrite = true,
            "--no-modality-lut" => pairs.push(("modality_lut".to_string(), J::Bool(false))),
            "--frame" => {
                let v = value("--frame")?;
                let j = if v == "all" { json!("all") } else { num(&v, "--frame")? };
                pairs.push(("frame".to_string(), j))
            }
            "--format" => pairs.push(("format".to_string(), J::String(value("--format")?))),
            "--bit-depth" => {
                let v = value("--bit-depth")?;
                pairs.push(("bit_depth".to_string(), num(&v, "--bit-depth")?))
            }
            "--quality" => {
                let v = value("--quality")?;
                pairs.push(("quality".to_string(), num(&v, "--quality")?))
            }
            "--png-compression" => {
                let v = value("--png-compression")?;
                pairs.push(("png_compression".to_string(), num(&v, "--png-compression")?))
            }
            "--window-center" => {
                let v = value("--window-center")?;
                pairs.push(("window_center".to_string(), num(&v, "--window-center")?))
            }
            "--window-width" => {
                let v = value("--window-width")?;
                pairs.push(("window_width".to_string(), num(&v, "--window-width")?))
            }
            "--window-preset" => pairs.push(("window_preset".to_string(), J::String(value("--window-preset")?))),
            "--voi-function" => pairs.push(("voi_function".to_string(), J::String(value("--voi-function")?))),
            "--voi" => pairs.push(("voi".to_string(), J::String(value("--voi")?))),
            "--voi-index" => {
                let v = value("--voi-index")?;
                pairs.push(("voi_index".to_string(), num(&v, "--voi-index")?))
            }
            "--presentation" => pairs.push(("presentation".to_string(), J::String(value("--presentation")?))),
            "--colormap" => pairs.push(("colormap".to_string(), J::String(value("--colormap")?))),
            "--overlays" => {
                let v = value("--overlays")?;
                let j = match v.as_str() {
                    "all" | "true" => J::Bool(true),
                    "none" | "false" => J::Bool(false),
                    list => {
                        let mut planes = Vec::new();
                        for p in list.split(',').filter(|p| !p.trim().is_empty()) {
                            planes.push(json!(p.trim().parse::<i64>().map_err(|_| usage(format!("--overlays: bad plane {:?}", p)))?));
                        }
                        J::Array(planes)
                    }
                };
                pairs.push(("overlays".to_string(), j))
            }
            "--overlay-value" => {
                let v = value("--overlay-value")?;
                let j = if v.starts_with('#') { J::String(v) } else { num(&v, "--overlay-value")? };
                pairs.push(("overlay_value".to_string(), j))
            }
            _ => return Err(usage(format!("unknown option {} (see --help)", flag))),
        }
    }
    if batch {
        if !positional.is_empty() {
            return Err(usage("--batch takes no INPUT/OUTPUT arguments"));
        }
        return run_batch();
    }
    if op == "decode" {
        return cli_decode(&pairs, &positional, overwrite);
    }
    if op != "to_image" {
        let o = stats::OpOptions::from_pairs(&op, pairs.iter().map(|(k, v)| (k.as_str(), v)))
            .map_err(|e| if e.field.as_deref() == Some("op") { usage(e.message) } else { e })?;
        if overwrite {
            return Err(usage(format!("--overwrite: {} writes nothing", op)));
        }
        if positional.len() != 1 {
            return Err(usage(format!("--op {} expects INPUT only (the result is printed; see --help)", op)));
        }
        println!("{}", stats::run(&positional[0], &o)?);
        return Ok(());
    }
    if positional.len() != 2 {
        return Err(usage("expected INPUT and OUTPUT (see --help)"));
    }
    let mut b = Builder::default();
    for (k, v) in &pairs {
        b.set_json(k, v)?;
    }
    let o = b.finish()?;
    let (outputs, _) = run(&positional[0], Some(&positional[1]), overwrite, &o)?;
    for p in outputs {
        println!("{}", p);
    }
    Ok(())
}

/// `--op decode`: `--frame` and `--color-space` only; INPUT and OUTPUT; the result printed.
fn cli_decode(pairs: &[(String, J)], positional: &[String], overwrite: bool) -> Result<()> {
    let mut frame = FrameSel::All;
    let mut cs = raw::ColorSpace::Native;
    for (k, v) in pairs {
        match (k.as_str(), v) {
            ("frame", J::String(s)) if s == "all" => frame = FrameSel::All,
            ("frame", v) => {
                let n = v.as_i64().filter(|n| *n >= 0).ok_or_else(|| usage("--frame needs a 0-based frame or all"))?;
                frame = FrameSel::One(n as usize)
            }
            ("color_space", J::String(s)) => cs = raw::ColorSpace::parse(s)?,
            (other, _) => return Err(usage(format!("--op decode takes --frame and --color-space, not the {} option", other))),
        }
    }
    if positional.len() != 2 {
        return Err(usage("--op decode expects INPUT and OUTPUT (see --help)"));
    }
    println!("{}", raw::run(&positional[0], &positional[1], overwrite, frame, cs)?);
    Ok(())
}

fn run_batch() -> Result<()> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    for line in stdin.lock().split(b'\n') {
        let line = match line {
            Ok(l) => l,
            Err(_) => break,
        };
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let answer = match std::panic::catch_unwind(|| batch_one(&text)) {
            Ok(a) => a,
            Err(p) => error_json(
                &serde_json::from_str::<J>(&text).ok().and_then(|v| v.get("id").cloned()).unwrap_or(J::Null),
                &Error::new("internal_error", format!("dicom-render crashed: {}", panic_text(&p))),
            )
            .to_string(),
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{}", answer);
        let _ = out.flush();
    }
    Ok(())
}

fn error_json(id: &J, e: &Error) -> J {
    json!({"id": id, "ok": false, "error": {"code": e.code, "message": e.message, "field": e.field}})
}

/// One batch request line -> one answer line. `op` is `to_image` (default), `stats` or `histogram`;
/// the ops' results keep python_ref's key order, so their answer is written as text.
pub fn batch_one(text: &str) -> String {
    let req: J = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return error_json(&J::Null, &Error::new("invalid_json", format!("not valid JSON: {}", e))).to_string(),
    };
    let id = req.get("id").cloned().unwrap_or(J::Null);
    let r = (|| -> Result<String> {
        let obj = req.as_object().ok_or_else(|| Error::invalid("request", "a request is a JSON object"))?;
        let op = match obj.get("op") {
            None | Some(J::Null) => "to_image",
            Some(J::String(s)) if ["to_image", "stats", "histogram"].contains(&s.as_str()) => s.as_str(),
            Some(_) => return Err(Error::invalid("op", "rust_render implements op \"to_image\", \"stats\" and \"histogram\"")),
        };
        let mut input = None;
        let mut output = None;
        let mut overwrite = false;
        let mut options = serde_json::Map::new();
        for (k, v) in obj {
            match k.as_str() {
                "id" | "op" => {}
                "input" => input = Some(v.as_str().ok_or_else(|| Error::invalid("input", "input must be a path string"))?.to_string()),
                "output" => {
                    output = match v {
                        J::Null => None,
                        _ => Some(v.as_str().ok_or_else(|| Error::invalid("output", "output must be a path string"))?.to_string()),
                    }
                }
                "overwrite" => overwrite = v.as_bool().ok_or_else(|| Error::invalid("overwrite", "overwrite must be true or false"))?,
                "options" => {
                    if !v.is_null() {
                        options = v.as_object().ok_or_else(|| Error::invalid("options", "options must be an object"))?.clone();
                    }
                }
                other => return Err(Error::invalid(other, format!("unknown request key {:?}", other))),
            }
        }
        let input = input.ok_or_else(|| Error::invalid("input", "input is required"))?;
        if op != "to_image" {
            let o = stats::OpOptions::from_map(op, &options)?;
            if output.is_some() {
                return Err(Error::invalid("output", format!("{} writes nothing: give no output", op)));
            }
            let result = stats::run(&input, &o)?;
            return Ok(format!("{{\"id\":{},\"ok\":true,\"outputs\":[],\"result\":{}}}", id, result));
        }
        let mut b = Builder::default();
        for (ok, ov) in &options {
            b.set_json(ok, ov)?;
        }
        let o = b.finish()?;
        let (outputs, result) = run(&input, output.as_deref(), overwrite, &o)?;
        Ok(json!({"id": id, "ok": true, "outputs": outputs, "result": result}).to_string())
    })();
    match r {
        Ok(v) => v,
        Err(e) => error_json(&id, &e).to_string(),
    }
}

/// Read and parse a DICOM input (`input_not_found`, `not_dicom`, `no_pixel_data`).
pub fn read_input(input: &str) -> Result<dicom::DicomFile> {
    let ipath = Path::new(input);
    if !matches!(std::fs::metadata(ipath), Ok(m) if m.is_file()) {
        return Err(Error::new("input_not_found", format!("input not found or not a file: {}", input)).with_field("input"));
    }
    let buf = std::fs::read(ipath).map_err(|e| Error::new("input_not_found", format!("cannot read {}: {}", input, e)).with_field("input"))?;
    let file = dicom::parse(&buf)?;
    drop(buf);
    if !file.ds.contains(dicom::PIXEL_DATA) {
        return Err(Error::new("no_pixel_data", "the file has no Pixel Data (7FE0,0010)"));
    }
    Ok(file)
}

fn frame_path(output: &Path, frame: usize) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let suffix = output.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    output.with_file_name(format!("{}_{:04}{}", stem, frame, suffix))
}

fn temp_for(final_: &Path, k: usize) -> PathBuf {
    let stem = final_.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let suffix = final_.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    final_.with_file_name(format!(".{}.dicom-render-{}-{:08x}{}.tmp{}", stem, std::process::id(), nanos, k, suffix))
}

/// Render one request: returns the output paths and the result object.
pub fn run(input: &str, output: Option<&str>, overwrite: bool, o: &Options) -> Result<(Vec<String>, J)> {
    let fmt: String = o
        .format
        .clone()
        .or_else(|| output.and_then(options::format_from_extension).map(|s| s.to_string()))
        .unwrap_or_else(|| "png".into());
    if fmt == "jpeg" && o.bit_depth == 16 {
        return Err(Error::invalid("options.bit_depth", "jpeg output is 8-bit: bit_depth 16 needs png, tiff or pnm"));
    }
    let ipath = Path::new(input);
    let file = read_input(input)?;
    let info = pixels::image_info(&file.ds)?;
    pixels::check_size(&file, &info)?;
    let frames: Vec<usize> = match o.frame {
        FrameSel::One(n) => {
            if n >= info.frames {
                return Err(Error::new(
                    "frame_out_of_range",
                    format!("frame {} is out of range: the file has {} frame(s) (0-based)", n, info.frames),
                )
                .with_field("options.frame"));
            }
            vec![n]
        }
        FrameSel::All => (0..info.frames).collect(),
    };
    let out_path: PathBuf = match output {
        Some(p) => PathBuf::from(p),
        None => {
            let name = ipath.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
            let base = if name.to_lowercase().ends_with(".dcm") { name[..name.len() - 4].to_string() } else { name };
            let ext = match fmt.as_str() {
                "jpeg" => "jpg",
                "tiff" => "tiff",
                "pnm" => "pnm",
                _ => "png",
            };
            PathBuf::from(format!("{}.{}", base, ext))
        }
    };
    let finals: Vec<(PathBuf, usize)> = if o.frame == FrameSel::All {
        frames.iter().map(|&f| (frame_path(&out_path, f), f)).collect()
    } else {
        vec![(out_path.clone(), frames[0])]
    };
    for (p, _) in &finals {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Error::new("output_dir_missing", format!("output folder does not exist: {}", parent.display())).with_field("output"));
        }
        if p.is_dir() {
            return Err(Error::new("output_exists", format!("output is a folder: {}", p.display())).with_field("output"));
        }
        if p.exists() && !overwrite {
            return Err(Error::new("output_exists", format!("output exists: {} (use --overwrite / \"overwrite\": true)", p.display()))
                .with_field("output"));
        }
    }
    render::preflight(&info, o)?;
    let mut temps: Vec<PathBuf> = Vec::new();
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = std::fs::remove_file(t);
        }
    };
    let mut per_frame = Vec::new();
    let mut last: Option<render::Rendered> = None;
    for (k, (p, f)) in finals.iter().enumerate() {
        let rendered = match render::render_frame(&file, &info, *f, o) {
            Ok(r) => r,
            Err(e) => {
                cleanup(&temps);
                return Err(e);
            }
        };
        let bytes = encode::encode(&rendered.image, &fmt, o.quality, o.png_compression);
        let t = temp_for(p, k);
        if let Err(e) = std::fs::write(&t, &bytes) {
            let _ = std::fs::remove_file(&t);
            cleanup(&temps);
            return Err(Error::new("backend_failed", format!("cannot write {}: {}", t.display(), e)));
        }
        temps.push(t);
        per_frame.push(json!({"frame": f, "voi": rendered.voi, "overlays": rendered.overlays}));
        last = Some(rendered);
    }
    // commit: all or nothing
    let mut done: Vec<PathBuf> = Vec::new();
    for (t, (p, _)) in temps.iter().zip(&finals) {
        let r = if overwrite {
            std::fs::rename(t, p).map_err(|e| Error::new("backend_failed", format!("cannot move output into place: {}", e)))
        } else {
            match std::fs::hard_link(t, p) {
                Ok(()) => {
                    let _ = std::fs::remove_file(t);
                    Ok(())
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(Error::new("output_exists", format!("output exists (appeared while rendering): {}", p.display())).with_field("output"))
                }
                Err(_) => {
                    if p.exists() {
                        Err(Error::new("output_exists", format!("output exists: {}", p.display())).with_field("output"))
                    } else {
                        std::fs::rename(t, p).map_err(|e| Error::new("backend_failed", format!("cannot move output into place: {}", e)))
                    }
                }
            }
        };
        if let Err(e) = r {
            cleanup(&temps);
            for d in &done {
                let _ = std::fs::remove_file(d);
            }
            return Err(e);
        }
        done.push(p.clone());
    }
    let last = last.expect("at least one frame");
    let mode = if last.image.channels == 3 {
        if last.image.bit_depth == 16 {
            "RGB;16"
        } else {
            "RGB"
        }
    } else if last.image.bit_depth == 16 {
        "I;16"
    } else {
        "L"
    };
    let mut result = json!({
        "width": last.image.width,
        "height": last.image.height,
        "mode": mode,
        "bit_depth": o.bit_depth,
        "format": fmt,
        "frames": frames,
        "frame": frames[0],
        "voi": per_frame[0]["voi"].clone(),
        "modality": last.modality,
        "inverted": last.inverted,
        "overlays": last.overlays,
        "photometric": info.photometric,
        "transfer_syntax": file.transfer_syntax,
    });
    if per_frame.len() > 1 {
        result["per_frame"] = J::Array(per_frame);
    }
    Ok((done.iter().map(|p| p.to_string_lossy().to_string()).collect(), result))
}
