//! JPEG 2000 (Debian's libopenjp2) and JPEG-LS (Debian's libcharls) through hand-written
//! `extern "C"` declarations of their public C APIs (openjpeg.h 2.5, charls.h 2.4).

use crate::error::{Error, Result};
use crate::pixels::{ImageInfo, RawFrame};
use std::os::raw::{c_char, c_int, c_void};

#[repr(C)]
struct OpjImageComp {
    dx: u32,
    dy: u32,
    w: u32,
    h: u32,
    x0: u32,
    y0: u32,
    prec: u32,
    bpp: u32,
    sgnd: u32,
    resno_decoded: u32,
    factor: u32,
    data: *mut i32,
    alpha: u16,
}

#[repr(C)]
struct OpjImage {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    numcomps: u32,
    color_space: c_int,
    comps: *mut OpjImageComp,
    icc_profile_buf: *mut u8,
    icc_profile_len: u32,
}

type ReadFn = extern "C" fn(*mut c_void, usize, *mut c_void) -> usize;
type SkipFn = extern "C" fn(i64, *mut c_void) -> i64;
type SeekFn = extern "C" fn(i64, *mut c_void) -> c_int;
type MsgFn = extern "C" fn(*const c_char, *mut c_void);

#[link(name = "openjp2")]
extern "C" {
    fn opj_create_decompress(format: c_int) -> *mut c_void;
    fn opj_set_default_decoder_parameters(params: *mut c_void);
    fn opj_setup_decoder(codec: *mut c_void, params: *mut c_void) -> c_int;
    fn opj_stream_create(buffer_size: usize, is_input: c_int) -> *mut c_void;
    fn opj_stream_set_read_function(stream: *mut c_void, f: ReadFn);
    fn opj_stream_set_skip_function(stream: *mut c_void, f: SkipFn);
    fn opj_stream_set_seek_function(stream: *mut c_void, f: SeekFn);
    fn opj_stream_set_user_data(stream: *mut c_void, data: *mut c_void, free: Option<extern "C" fn(*mut c_void)>);
    fn opj_stream_set_user_data_length(stream: *mut c_void, len: u64);
    fn opj_read_header(stream: *mut c_void, codec: *mut c_void, image: *mut *mut OpjImage) -> c_int;
    fn opj_decode(codec: *mut c_void, stream: *mut c_void, image: *mut OpjImage) -> c_int;
    fn opj_end_decompress(codec: *mut c_void, stream: *mut c_void) -> c_int;
    fn opj_stream_destroy(stream: *mut c_void);
    fn opj_destroy_codec(codec: *mut c_void);
    fn opj_image_destroy(image: *mut OpjImage);
    fn opj_set_error_handler(codec: *mut c_void, f: MsgFn, data: *mut c_void) -> c_int;
}

struct Src {
    data: *const u8,
    len: usize,
    pos: usize,
}

extern "C" fn src_read(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    let s = unsafe { &mut *(user as *mut Src) };
    if s.pos >= s.len {
        return usize::MAX; // (OPJ_SIZE_T)-1: end of stream
    }
    let k = n.min(s.len - s.pos);
    unsafe { std::ptr::copy_nonoverlapping(s.data.add(s.pos), buf as *mut u8, k) };
    s.pos += k;
    k
}
extern "C" fn src_skip(n: i64, user: *mut c_void) -> i64 {
    let s = unsafe { &mut *(user as *mut Src) };
    let np = (s.pos as i64 + n).clamp(0, s.len as i64);
    let d = np - s.pos as i64;
    s.pos = np as usize;
    d
}
extern "C" fn src_seek(n: i64, user: *mut c_void) -> c_int {
    let s = unsafe { &mut *(user as *mut Src) };
    if n < 0 || n as usize > s.len {
        return 0;
    }
    s.pos = n as usize;
    1
}
extern "C" fn on_error(msg: *const c_char, user: *mut c_void) {
    let out = unsafe { &mut *(user as *mut String) };
    if out.is_empty() && !msg.is_null() {
        *out = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy().trim().to_string();
    }
}

/// Decode a JPEG 2000 codestream (or JP2 file) with libopenjp2 into pixel-interleaved words.
pub fn decode_j2k(data: &[u8], info: &ImageInfo) -> Result<RawFrame> {
    if data.len() < 4 {
        return Err(Error::decode("JPEG 2000: empty codestream"));
    }
    let format = if data.len() >= 12 && &data[4..8] == b"jP  " { 2 } else { 0 };
    let mut err = String::new();
    unsafe {
        let codec = opj_create_decompress(format);
        if codec.is_null() {
            return Err(Error::decode("JPEG 2000: cannot create decoder"));
        }
        opj_set_error_handler(codec, on_error, &mut err as *mut String as *mut c_void);
        // opj_dparameters_t is large (paths, arrays): a generous zeroed buffer holds it
        let mut params = vec![0u64; 16384];
        opj_set_default_decoder_parameters(params.as_mut_ptr() as *mut c_void);
        if opj_setup_decoder(codec, params.as_mut_ptr() as *mut c_void) == 0 {
            opj_destroy_codec(codec);
            return Err(Error::decode("JPEG 2000: decoder setup failed"));
        }
        let mut src = Src { data: data.as_ptr(), len: data.len(), pos: 0 };
        let stream = opj_stream_create(1 << 16, 1);
        opj_stream_set_read_function(stream, src_read);
        opj_stream_set_skip_function(stream, src_skip);
        opj_stream_set_seek_function(stream, src_seek);
        opj_stream_set_user_data(stream, &mut src as *mut Src as *mut c_void, None);
        opj_stream_set_user_data_length(stream, data.len() as u64);
        let mut image: *mut OpjImage = std::ptr::null_mut();
        let header_ok = opj_read_header(stream, codec, &mut image) != 0 && !image.is_null();
        let too_large = header_ok && {
            let img = &*image;
            let px = (img.x1.saturating_sub(img.x0) as usize).saturating_mul(img.y1.saturating_sub(img.y0) as usize);
            px.saturating_mul(img.numcomps as usize) > crate::pixels::MAX_FRAME_SAMPLES
                || img.x1.saturating_sub(img.x0) as usize > info.cols.saturating_mul(2)
                || img.y1.saturating_sub(img.y0) as usize > info.rows.saturating_mul(2)
        };
        if too_large {
            opj_image_destroy(image);
            opj_stream_destroy(stream);
            opj_destroy_codec(codec);
            return Err(Error::new("input_too_large", "JPEG 2000: the codestream declares an image too large to decode"));
        }
        let ok = header_ok
            && opj_decode(codec, stream, image) != 0
            && opj_end_decompress(codec, stream) != 0;
        let result = if !ok || image.is_null() {
            Err(Error::decode(format!("JPEG 2000: {}", if err.is_empty() { "decoding failed" } else { &err })))
        } else {
            let img = &*image;
            let n = img.numcomps as usize;
            let comps = std::slice::from_raw_parts(img.comps, n);
            let w = comps[0].w as usize;
            let h = comps[0].h as usize;
            let use_n = n.min(info.spp.max(1));
            if comps[..use_n].iter().any(|c| c.w as usize != w || c.h as usize != h || c.data.is_null()) {
                Err(Error::decode("JPEG 2000: subsampled components are not supported"))
            } else if w != info.cols || h != info.rows {
                Err(Error::decode(format!("JPEG 2000: image is {}x{} but the data set says {}x{}", w, h, info.cols, info.rows)))
            } else {
                let mask: u64 = if info.bits_alloc >= 32 { 0xFFFF_FFFF } else { (1u64 << info.bits_alloc) - 1 };
                let mut out = vec![0u32; w * h * use_n];
                for (c, comp) in comps[..use_n].iter().enumerate() {
                    let d = std::slice::from_raw_parts(comp.data, w * h);
                    for (k, &v) in d.iter().enumerate() {
                        out[k * use_n + c] = ((v as i64 as u64) & mask) as u32;
                    }
                }
                let photometric = if use_n == 3 && matches!(info.photometric.as_str(), "YBR_RCT" | "YBR_ICT") {
                    "RGB".to_string()
                } else {
                    info.photometric.clone()
                };
                Ok(RawFrame { data: out, photometric, full_words: false })
            }
        };
        if !image.is_null() {
            opj_image_destroy(image);
        }
        opj_stream_destroy(stream);
        opj_destroy_codec(codec);
        result
    }
}

#[repr(C)]
#[derive(Default)]
struct CharlsFrameInfo {
    width: u32,
    height: u32,
    bits_per_sample: i32,
    component_count: i32,
}

#[link(name = "charls")]
extern "C" {
    fn charls_jpegls_decoder_create() -> *mut c_void;
    fn charls_jpegls_decoder_destroy(d: *const c_void);
    fn charls_jpegls_decoder_set_source_buffer(d: *mut c_void, src: *const c_void, len: usize) -> c_int;
    fn charls_jpegls_decoder_read_header(d: *mut c_void) -> c_int;
    fn charls_jpegls_decoder_get_frame_info(d: *const c_void, fi: *mut CharlsFrameInfo) -> c_int;
    fn charls_jpegls_decoder_get_interleave_mode(d: *const c_void, mode: *mut c_int) -> c_int;
    fn charls_jpegls_decoder_get_destination_size(d: *const c_void, stride: u32, size: *mut usize) -> c_int;
    fn charls_jpegls_decoder_decode_to_buffer(d: *mut c_void, dst: *mut c_void, size: usize, stride: u32) -> c_int;
    fn charls_get_error_message(code: c_int) -> *const c_char;
}

/// Decode a JPEG-LS stream with libcharls into pixel-interleaved words.
pub fn decode_jls(data: &[u8], info: &ImageInfo) -> Result<RawFrame> {
    unsafe {
        let d = charls_jpegls_decoder_create();
        if d.is_null() {
            return Err(Error::decode("JPEG-LS: cannot create decoder"));
        }
        let fail = |code: c_int| {
            let m = charls_get_error_message(code);
            let text = if m.is_null() { "error".to_string() } else { std::ffi::CStr::from_ptr(m).to_string_lossy().to_string() };
            Error::decode(format!("JPEG-LS: {}", text))
        };
        let mut fi = CharlsFrameInfo::default();
        let mut mode: c_int = 0;
        let mut size = 0usize;
        let mut rc = charls_jpegls_decoder_set_source_buffer(d, data.as_ptr() as *const c_void, data.len());
        if rc == 0 {
            rc = charls_jpegls_decoder_read_header(d);
        }
        if rc == 0 {
            rc = charls_jpegls_decoder_get_frame_info(d, &mut fi);
        }
        if rc == 0 {
            rc = charls_jpegls_decoder_get_interleave_mode(d, &mut mode);
        }
        if rc == 0
            && ((fi.width as usize).saturating_mul(fi.height as usize).saturating_mul(fi.component_count.max(1) as usize)
                > crate::pixels::MAX_FRAME_SAMPLES
                || fi.width as usize != info.cols
                || fi.height as usize != info.rows)
        {
            charls_jpegls_decoder_destroy(d);
            return Err(Error::decode(format!("JPEG-LS: image is {}x{} but the data set says {}x{}", fi.width, fi.height, info.cols, info.rows)));
        }
        if rc == 0 {
            rc = charls_jpegls_decoder_get_destination_size(d, 0, &mut size);
        }
        let mut buf = vec![0u8; size];
        if rc == 0 {
            rc = charls_jpegls_decoder_decode_to_buffer(d, buf.as_mut_ptr() as *mut c_void, size, 0);
        }
        let r = if rc != 0 { Err(fail(rc)) } else { Ok(()) };
        charls_jpegls_decoder_destroy(d);
        r?;
        let (w, h, nc) = (fi.width as usize, fi.height as usize, fi.component_count.max(1) as usize);
        if w != info.cols || h != info.rows {
            return Err(Error::decode(format!("JPEG-LS: image is {}x{} but the data set says {}x{}", w, h, info.cols, info.rows)));
        }
        let mut out: Vec<u32> = if fi.bits_per_sample <= 8 {
            buf.iter().map(|&v| v as u32).collect()
        } else {
            buf.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect()
        };
        out.truncate(w * h * nc);
        if nc > 1 && mode == 0 {
            out = crate::pixels::planar_to_interleaved(&out, nc);
        }
        Ok(RawFrame { data: out, photometric: info.photometric.clone(), full_words: false })
    }
}
