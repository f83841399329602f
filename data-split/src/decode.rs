//! Decoding image files to RGB: zune-jpeg for JPEG (the fast path), the
//! `image` crate for PNG and unusual files (CMYK or PNG data named `.jpg`,
//! both of which occur in ImageNet).
//!
//! Every kind ends as 8-bit RGB, by one rule per kind (tested for each):
//! * grayscale (8- or 16-bit, with or without alpha): the gray value in all
//!   three channels;
//! * an alpha channel is dropped: the colour channels are taken as stored,
//!   not composited over a background (a fully transparent pixel keeps its
//!   stored colour);
//! * 16-bit samples become 8-bit by rounding v · 255 / 65535 to the nearest
//!   integer.

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

    /// One pixel of each kind a PNG can hold, through the decoder.
    #[test]
    fn every_png_kind_becomes_8_bit_rgb_by_the_stated_rule() {
        let dir = tempfile::tempdir().expect("tmp");
        let decode_one = |name: &str, img: image::DynamicImage| {
            let p = dir.path().join(name);
            img.save(&p).expect("save png");
            let im = decode_file(&p).expect("decode");
            assert_eq!((im.width, im.height, im.pixels.len()), (2, 1, 6), "{name}");
            im.pixels
        };
        let to8 = |v: u16| ((v as f64) * 255.0 / 65535.0).round() as u8;
        use image::{DynamicImage as D, ImageBuffer, Luma, LumaA, Rgb, Rgba};
        assert_eq!(decode_one("l8.png", D::ImageLuma8(ImageBuffer::from_vec(2, 1, vec![7, 250]).expect("buf"))), [7, 7, 7, 250, 250, 250]);
        assert_eq!(
            decode_one("la8.png", D::ImageLumaA8(ImageBuffer::from_fn(2, 1, |x, _| LumaA([40 + x as u8, if x == 0 { 0 } else { 255 }])))),
            [40, 40, 40, 41, 41, 41],
            "alpha dropped, even where fully transparent"
        );
        assert_eq!(
            decode_one("rgba8.png", D::ImageRgba8(ImageBuffer::from_fn(2, 1, |x, _| Rgba([10, 20 + x as u8, 30, 0])))),
            [10, 20, 30, 10, 21, 30],
            "stored colours, not composited"
        );
        let (a, b) = (0x1234u16, 0xFFFEu16);
        assert_eq!(
            decode_one("l16.png", D::ImageLuma16(ImageBuffer::from_fn(2, 1, |x, _| Luma([if x == 0 { a } else { b }])))),
            [to8(a), to8(a), to8(a), to8(b), to8(b), to8(b)]
        );
        assert_eq!(
            decode_one("rgb16.png", D::ImageRgb16(ImageBuffer::from_fn(2, 1, |_, _| Rgb([a, 0x8000, b])))),
            [to8(a), to8(0x8000), to8(b), to8(a), to8(0x8000), to8(b)]
        );
        assert_eq!(decode_one("rgba16.png", D::ImageRgba16(ImageBuffer::from_fn(2, 1, |_, _| Rgba([b, a, 0, 1])))), [to8(b), to8(a), 0, to8(b), to8(a), 0]);
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
