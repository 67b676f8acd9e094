//! End-to-end tests of the dicom-render binary on small hand-built DICOM files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dicom-render");

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dicom-render-test-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn el(g: u16, e: u16, vr: &[u8; 2], val: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&g.to_le_bytes());
    v.extend_from_slice(&e.to_le_bytes());
    v.extend_from_slice(vr);
    let mut val = val.to_vec();
    if val.len() % 2 == 1 {
        val.push(if matches!(vr, b"OB" | b"OW" | b"UI") { 0 } else { b' ' });
    }
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&(val.len() as u32).to_le_bytes());
    } else {
        v.extend_from_slice(&(val.len() as u16).to_le_bytes());
    }
    v.extend_from_slice(&val);
    v
}

fn us(v: u16) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// A Part 10 file: explicit VR little endian unless `ts` says otherwise; `body` sorted by the caller.
fn part10(ts: &str, body: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0u8; 128];
    f.extend_from_slice(b"DICM");
    f.extend(el(0x0002, 0x0010, b"UI", ts.as_bytes()));
    for b in body {
        f.extend_from_slice(b);
    }
    f
}

/// 3 columns x 2 rows, 16-bit signed, 12 bits stored, two frames, rescale and a stored window.
fn ct_file(photometric: &str) -> Vec<u8> {
    let frame0: [i16; 6] = [-2048, -100, 0, 100, 200, 2047];
    let frame1: [i16; 6] = [0, 0, 0, 0, 0, 0];
    let mut px = Vec::new();
    for v in frame0.iter().chain(frame1.iter()) {
        // 12 bits stored in 16: keep garbage in the top nibble to check masking
        let raw = (*v as u16 & 0x0FFF) | 0xA000;
        px.extend_from_slice(&raw.to_le_bytes());
    }
    part10(
        "1.2.840.10008.1.2.1",
        &[
            el(0x0008, 0x0060, b"CS", b"CT"),
            el(0x0028, 0x0002, b"US", &us(1)),
            el(0x0028, 0x0004, b"CS", photometric.as_bytes()),
            el(0x0028, 0x0008, b"IS", b"2"),
            el(0x0028, 0x0010, b"US", &us(2)),
            el(0x0028, 0x0011, b"US", &us(3)),
            el(0x0028, 0x0100, b"US", &us(16)),
            el(0x0028, 0x0101, b"US", &us(12)),
            el(0x0028, 0x0102, b"US", &us(11)),
            el(0x0028, 0x0103, b"US", &us(1)),
            el(0x0028, 0x1050, b"DS", b"0"),
            el(0x0028, 0x1051, b"DS", b"201"),
            el(0x0028, 0x1052, b"DS", b"0"),
            el(0x0028, 0x1053, b"DS", b"2"),
            el(0x7FE0, 0x0010, b"OW", &px),
        ],
    )
}

fn read_pgm(p: &Path) -> (usize, usize, Vec<u16>) {
    let d = std::fs::read(p).unwrap();
    let mut nl = 0;
    let mut end = 0;
    for (i, &b) in d.iter().enumerate() {
        if b == b'\n' {
            nl += 1;
            if nl == 3 {
                end = i + 1;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&d[..end]).to_string();
    let mut parts = text.split_whitespace();
    assert_eq!(parts.next(), Some("P5"));
    let w: usize = parts.next().unwrap().parse().unwrap();
    let h: usize = parts.next().unwrap().parse().unwrap();
    let maxval: usize = parts.next().unwrap().parse().unwrap();
    // header is 4 whitespace-separated tokens each followed by one byte
    let header_len = format!("P5\n{} {}\n{}\n", w, h, maxval).len();
    let body = &d[header_len..];
    let vals = if maxval > 255 {
        body.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()
    } else {
        body.iter().map(|&b| b as u16).collect()
    };
    (w, h, vals)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
}

#[test]
fn stored_window_with_rescale_and_masking() {
    let d = tmpdir("window");
    let input = d.join("ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME2")).unwrap();
    let out = d.join("ct.pgm");
    let (rc, _, err) = run(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(rc, 0, "{}", err);
    let (w, h, v) = read_pgm(&out);
    assert_eq!((w, h), (3, 2));
    // modality = 2*stored: -4096, -200, 0, 200, 400, 4094; window c=0 w=201 LINEAR:
    // lo = -100.5, hi = 99.5 -> 0, 0, ((0+0.5)/200+0.5)*255 = 128.1375 -> 128, 255, 255, 255
    assert_eq!(v, vec![0, 0, 128, 255, 255, 255]);
}

#[test]
fn monochrome1_inverts_and_explicit_window_16bit() {
    let d = tmpdir("mono1");
    let input = d.join("ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME1")).unwrap();
    let out = d.join("ct.pgm");
    let (rc, _, err) = run(&[
        "--window-center", "0", "--window-width", "400", "--voi-function", "linear_exact", "--bit-depth", "16",
        input.to_str().unwrap(), out.to_str().unwrap(),
    ]);
    assert_eq!(rc, 0, "{}", err);
    let (_, _, v) = read_pgm(&out);
    // LINEAR_EXACT c=0 w=400: x=-200 -> 0 -> inverted 65535; x=0 -> 32767.5 -> 65535-32767.5 = 32767.5 -> 32768
    assert_eq!(v[1], 65535);
    assert_eq!(v[2], 32768);
    assert_eq!(v[3], 0);
}

#[test]
fn frame_all_naming_and_output_exists() {
    let d = tmpdir("frames");
    let input = d.join("ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME2")).unwrap();
    let out = d.join("us.png");
    let (rc, stdout, _) = run(&["--frame", "all", input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(rc, 0);
    assert!(d.join("us_0000.png").exists() && d.join("us_0001.png").exists());
    assert_eq!(stdout.lines().count(), 2);
    let (rc, _, err) = run(&["--frame", "1", input.to_str().unwrap(), d.join("us_0001.png").to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: output_exists: "), "{}", err);
    assert_eq!(err.trim_end().lines().count(), 1);
    let (rc, _, _) = run(&["--overwrite", "--frame", "1", input.to_str().unwrap(), d.join("us_0001.png").to_str().unwrap()]);
    assert_eq!(rc, 0);
    let (rc, _, err) = run(&["--frame", "2", input.to_str().unwrap(), d.join("x.png").to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: frame_out_of_range: "), "{}", err);
    // no temporary files left behind
    let leftovers: Vec<_> = std::fs::read_dir(&d).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty());
}

#[test]
fn dash_input_after_double_dash_and_not_dicom() {
    let d = tmpdir("dash");
    let input = d.join("-ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME2")).unwrap();
    let o = Command::new(BIN).current_dir(&d).args(["--", "-ct.dcm", "-ct.png"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.join("-ct.png").exists());
    std::fs::write(d.join("text.dcm"), b"just some text, long enough to be read as a header").unwrap();
    let (rc, _, err) = run(&[d.join("text.dcm").to_str().unwrap(), d.join("t.png").to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: not_dicom: "), "{}", err);
    let (rc, out, _) = run(&["--version"]);
    assert_eq!(rc, 0);
    assert!(out.starts_with("dicom-render "));
}

#[test]
fn batch_mode_answers_every_line_in_order() {
    let d = tmpdir("batch");
    let input = d.join("ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME2")).unwrap();
    let lines = [
        serde_json::json!({"id": 1, "input": input, "output": d.join("a.png"), "options": {"voi": "minmax"}}).to_string(),
        "{not json".to_string(),
        serde_json::json!({"id": "x", "input": input, "output": d.join("b.png"), "options": {"colour": 1}}).to_string(),
        serde_json::json!({"id": 4, "input": input, "output": d.join("c.png"), "options": {"voi": "lut"}}).to_string(),
        serde_json::json!({"id": 5, "input": input, "output": d.join("d.png"), "options": {"frame": "all", "bit_depth": 16}}).to_string(),
    ];
    let mut child = Command::new(BIN).arg("--batch").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in &lines {
            writeln!(stdin, "{}", l).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    let answers: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), 5);
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(answers[0]["result"]["voi"]["source"], "minmax");
    assert_eq!(answers[0]["result"]["mode"], "L");
    assert_eq!(answers[1]["error"]["code"], "invalid_json");
    assert_eq!(answers[2]["id"], "x");
    assert_eq!(answers[2]["error"]["code"], "invalid_request");
    assert_eq!(answers[2]["error"]["field"], "options.colour");
    assert_eq!(answers[3]["error"]["code"], "invalid_request");
    assert_eq!(answers[3]["error"]["field"], "options.voi");
    assert_eq!(answers[4]["ok"], true);
    assert_eq!(answers[4]["outputs"].as_array().unwrap().len(), 2);
    assert_eq!(answers[4]["result"]["mode"], "I;16");
    assert_eq!(answers[4]["result"]["frames"], serde_json::json!([0, 1]));
}

/// RLE Lossless with the same pixels renders exactly like the native file.
#[test]
fn rle_matches_native() {
    let d = tmpdir("rle");
    let px: [u8; 6] = [0, 50, 100, 150, 200, 250];
    let header = |ts: &str, pixel: Vec<u8>| {
        part10(
            ts,
            &[
                el(0x0028, 0x0002, b"US", &us(1)),
                el(0x0028, 0x0004, b"CS", b"MONOCHROME2"),
                el(0x0028, 0x0010, b"US", &us(2)),
                el(0x0028, 0x0011, b"US", &us(3)),
                el(0x0028, 0x0100, b"US", &us(8)),
                el(0x0028, 0x0101, b"US", &us(8)),
                el(0x0028, 0x0102, b"US", &us(7)),
                el(0x0028, 0x0103, b"US", &us(0)),
                pixel,
            ],
        )
    };
    std::fs::write(d.join("native.dcm"), header("1.2.840.10008.1.2.1", el(0x7FE0, 0x0010, b"OB", &px))).unwrap();
    // encapsulated: empty offset table, one fragment = RLE header + literal run of 6
    let mut frag = vec![0u8; 64];
    frag[0] = 1;
    frag[4] = 64;
    frag.push(5);
    frag.extend_from_slice(&px);
    frag.push(0);
    let mut enc = Vec::new();
    enc.extend_from_slice(&0x7FE0u16.to_le_bytes());
    enc.extend_from_slice(&0x0010u16.to_le_bytes());
    enc.extend_from_slice(b"OB\0\0");
    enc.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    enc.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    enc.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    enc.extend_from_slice(&(frag.len() as u32).to_le_bytes());
    enc.extend_from_slice(&frag);
    enc.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    std::fs::write(d.join("rle.dcm"), header("1.2.840.10008.1.2.5", enc)).unwrap();
    for name in ["native", "rle"] {
        let (rc, _, err) = run(&["--voi", "none", d.join(format!("{}.dcm", name)).to_str().unwrap(), d.join(format!("{}.pgm", name)).to_str().unwrap()]);
        assert_eq!(rc, 0, "{}", err);
    }
    let (_, _, a) = read_pgm(&d.join("native.pgm"));
    let (_, _, b) = read_pgm(&d.join("rle.pgm"));
    assert_eq!(a, vec![0, 50, 100, 150, 200, 250]);
    assert_eq!(a, b);
}

/// `--op stats` / `--op histogram` on the 2-frame CT (stored -2048 -100 0 100 200 2047, slope 2; frame 1 zeros):
/// values computed by hand.
#[test]
fn stats_and_histogram_ops() {
    let d = tmpdir("ops");
    let input = d.join("ct.dcm");
    std::fs::write(&input, ct_file("MONOCHROME2")).unwrap();
    let i = input.to_str().unwrap();
    let (rc, out, err) = run(&["--op", "stats", "--percentiles", "50,0,100", "--", i]);
    assert_eq!(rc, 0, "{}", err);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["values"], "modality");
    assert_eq!(v["modality_lut"], "rescale");
    let f0 = &v["frames"][0];
    // modality: -4096 -200 0 200 400 4094
    assert_eq!(f0["frame"], 0);
    assert_eq!(f0["count"], 6);
    assert_eq!(f0["zero_count"], 1);
    assert_eq!(f0["unique"], 6);
    assert_eq!(f0["min"], -4096.0);
    assert_eq!(f0["max"], 4094.0);
    assert_eq!(f0["mean"], 398.0 / 6.0);
    // rank 2.5 between 0 and 200, weight 0.5: 200 - 200 * 0.5
    assert_eq!(f0["percentiles"], serde_json::json!({"50": 100.0, "0": -4096.0, "100": 4094.0}));
    assert!(out.contains("\"percentiles\":{\"50\":100.0,\"0\":-4096.0,\"100\":4094.0}"), "{}", out); // request order
    let f1 = &v["frames"][1];
    assert_eq!((f1["zero_count"].as_u64(), f1["unique"].as_u64(), f1["std"].as_f64()), (Some(6), Some(1), Some(0.0)));

    let (rc, out, err) = run(&["--op", "stats", "--values", "stored", "--frame", "0", "--percentiles", "", i]);
    assert_eq!(rc, 0, "{}", err);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["modality_lut"], "disabled");
    assert_eq!(v["frames"].as_array().unwrap().len(), 1);
    assert_eq!((v["frames"][0]["min"].as_f64(), v["frames"][0]["max"].as_f64()), (Some(-2048.0), Some(2047.0)));
    assert_eq!(v["frames"][0]["percentiles"], serde_json::json!({}));

    // bins of frame 0 over [-4096, 4094]: floor((x + 4096) * 4 / 8190) -> 0, 1, 2, 2, 2, 4 (clamped to 3);
    // frame 1 is constant 0: range [-0.5, 0.5], every value in bin 2
    let (rc, out, err) = run(&["--op", "histogram", "--bins", "4", i]);
    assert_eq!(rc, 0, "{}", err);
    assert_eq!(
        out.trim(),
        "{\"values\":\"modality\",\"modality_lut\":\"rescale\",\"frames\":[\
         {\"frame\":0,\"range\":[-4096.0,4094.0],\"bins\":4,\"counts\":[1,1,3,1],\"below\":0,\"above\":0},\
         {\"frame\":1,\"range\":[-0.5,0.5],\"bins\":4,\"counts\":[0,0,6,0],\"below\":0,\"above\":0}]}"
    );
    let (rc, out, _) = run(&["--op", "histogram", "--frame", "0", "--bins", "2", "--range", "-200,200", i]);
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["frames"][0]["counts"], serde_json::json!([1, 2])); // -200 | 0, 200 (== hi: last bin)
    assert_eq!((v["frames"][0]["below"].as_u64(), v["frames"][0]["above"].as_u64()), (Some(1), Some(2)));

    let (rc, _, err) = run(&["--op", "stats", "--frame", "2", i]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: frame_out_of_range:"), "{}", err);
    let (rc, _, err) = run(&["--op", "stats", "--bins", "3", i]);
    assert_eq!(rc, 1);
    assert!(err.contains("options.bins") || err.starts_with("error: invalid_request:"), "{}", err);
    let (rc, _, _) = run(&["--op", "median", i]);
    assert_eq!(rc, 2);
}

/// The .npy payload after its header (magic, version 1.0, u16 header length).
fn npy_parts(p: &Path) -> (String, Vec<u8>) {
    let d = std::fs::read(p).unwrap();
    assert_eq!(&d[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([d[8], d[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0);
    (String::from_utf8_lossy(&d[10..10 + hlen]).to_string(), d[10 + hlen..].to_vec())
}

#[test]
fn decode_writes_masked_sign_extended_values_frames_first() {
    let d = tmpdir("decode");
    let input = d.join("ct.dcm");
    // MONOCHROME1 is not inverted, rescale and window are not applied: the stored values only
    std::fs::write(&input, ct_file("MONOCHROME1")).unwrap();
    let out = d.join("ct.npy");
    let (rc, stdout, err) = run(&["--op", "decode", input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(rc, 0, "{}", err);
    let (header, payload) = npy_parts(&out);
    assert!(header.starts_with("{'descr': '<i2', 'fortran_order': False, 'shape': (2, 2, 3), }"), "{}", header);
    let values: Vec<i16> = payload.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    // the garbage nibble 0xA000 is masked away, 12-bit values sign-extended
    assert_eq!(values, vec![-2048, -100, 0, 100, 200, 2047, 0, 0, 0, 0, 0, 0]);
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["shape"], serde_json::json!([2, 2, 3]));
    assert_eq!(result["dtype"], "int16");
    assert_eq!(result["frames"], serde_json::json!([0, 1]));
    assert_eq!(result["photometric"], "MONOCHROME1");
    // md5 of the 24 payload bytes: -2048 = 00 f8, -100 = 9c ff, 0, 100 = 64 00, 200 = c8 00, 2047 = ff 07, then zeros
    // (python3 -c "import hashlib,struct; print(hashlib.md5(struct.pack('<12h',-2048,-100,0,100,200,2047,*[0]*6)).hexdigest())")
    assert_eq!(result["md5"], "552f9277ab4344a63472d9b98b3c1a1d");
    // one frame: no frame axis; an existing output needs --overwrite
    let (rc, _, err) = run(&["--op", "decode", "--frame", "1", input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: output_exists"), "{}", err);
    let (rc, stdout, err) = run(&["--op", "decode", "--frame", "1", "--overwrite", input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(rc, 0, "{}", err);
    assert!(stdout.contains("\"shape\":[2,3]"), "{}", stdout);
    let (rc, _, err) = run(&["--op", "decode", "--frame", "2", input.to_str().unwrap(), d.join("x.npy").to_str().unwrap()]);
    assert_eq!(rc, 1);
    assert!(err.starts_with("error: frame_out_of_range"), "{}", err);
    let (rc, _, err) = run(&["--op", "decode", "--bins", "3", input.to_str().unwrap(), d.join("y.npy").to_str().unwrap()]);
    assert_eq!(rc, 2, "{}", err);
    assert!(!d.join("x.npy").exists() && !d.join("y.npy").exists());
}
