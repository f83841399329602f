//! Decoding image files to RGB: zune-jpeg for JPEG (the fast path), the
//! `image` crate for PNG and unusual files (CMYK or PNG data named `.jpg`,
//! both of which occur in ImageNet). Grayscale is expanded to RGB.

use std::path::Path;

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::error::{Error, Result};
use crate::source::Image;

/// Decode an encoded image held in memory; `path` names it in errors.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Image> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut dec = JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
        if let Ok(pixels) = dec.decode()
            && let Some(info) = dec.info()
        {
            let (w, h) = (info.width as usize, info.height as usize);
            if pixels.len() == w * h * 3 {
                return Ok(Image { width: w, height: h, pixels });
            }
        }
    }
    let im = image::load_from_memory(bytes).map_err(|e| Error::Decode { path: path.to_path_buf(), message: e.to_string() })?.to_rgb8();
    Ok(Image { width: im.width() as usize, height: im.height() as usize, pixels: im.into_raw() })
}

/// Read and decode an image file.
pub fn decode_file(path: &Path) -> Result<Image> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_bytes(&bytes, path)
}

/// Whether a file name has an image extension this crate reads.
pub fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_jpeg_round_trip_and_gray_expands() {
        let dir = tempfile::tempdir().expect("tmp");
        let gray = image::GrayImage::from_fn(8, 6, |x, y| image::Luma([(x * 30 + y) as u8]));
        let p = dir.path().join("g.png");
        gray.save(&p).expect("save png");
        let im = decode_file(&p).expect("decode");
        assert_eq!((im.width, im.height, im.pixels.len()), (8, 6, 8 * 6 * 3));
        assert_eq!(im.pixels[3 * 9..3 * 9 + 3], [31, 31, 31]);

        let rgb = image::RgbImage::from_fn(16, 16, |x, _| image::Rgb([x as u8 * 16, 100, 50]));
        let j = dir.path().join("c.jpg");
        rgb.save(&j).expect("save jpeg");
        let im = decode_file(&j).expect("decode jpeg");
        assert_eq!((im.width, im.height), (16, 16));
        assert!((im.pixels[1] as i32 - 100).abs() < 8);
    }

    #[test]
    fn corrupt_file_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("bad.jpg");
        std::fs::write(&p, b"\xFF\xD8 this is not a jpeg").expect("write");
        let e = decode_file(&p).unwrap_err().to_string();
        assert!(e.contains("bad.jpg") && e.contains("cannot decode"), "{e}");
    }
}
