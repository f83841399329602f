//! Preprocessing as the authors did for ImageNet (Caffe of 2014): images are
//! warped to a stored size (256×256 for `caffenet`), the per-data-set mean
//! image is subtracted, and training takes a random crop (227; offsets
//! uniform in `0..S−C`, i.e. 0..=28: old Caffe's `rand() % (256 − 227)` never
//! yields 29) with a horizontal mirror at p = 0.5; evaluation takes the centre
//! crop (offset `(S−C)/2` = 14) without mirror. Caffe fed BGR; we keep RGB,
//! which changes nothing for networks trained from scratch.

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::source::Image;

/// Warp (ignore aspect ratio) an image to `width × height`, bilinear as
/// OpenCV's `INTER_LINEAR` in Caffe's `convert_imageset`.
pub fn resize(im: &Image, width: usize, height: usize) -> Image {
    if im.width == width && im.height == height {
        return im.clone();
    }
    let src = FirImage::from_vec_u8(im.width as u32, im.height as u32, im.pixels.clone(), PixelType::U8x3).expect("pixel buffer matches its dimensions");
    let mut dst = FirImage::new(width as u32, height as u32, PixelType::U8x3);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &opts).expect("same pixel type");
    Image { width, height, pixels: dst.into_vec() }
}

/// Where to crop and whether to mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    /// Column offset.
    pub x: usize,
    /// Row offset.
    pub y: usize,
    /// Mirror horizontally.
    pub mirror: bool,
}

impl Crop {
    /// The evaluation crop: centred, not mirrored.
    pub fn centre(stored: usize, crop: usize) -> Self {
        let o = (stored - crop) / 2;
        Crop { x: o, y: o, mirror: false }
    }

    /// A training crop from three uniform draws (`u32` each): offsets in
    /// `0..stored−crop` (exclusive, as old Caffe) and a fair mirror bit.
    pub fn random(stored: usize, crop: usize, draws: [u32; 3]) -> Self {
        let range = (stored - crop) as u32;
        let off = |d: u32| if range == 0 { 0 } else { (d % range) as usize };
        Crop { x: off(draws[0]), y: off(draws[1]), mirror: draws[2] & 1 == 1 }
    }
}

/// Crop a stored `size × size` HWC image, subtract `mean` (HWC, stored size)
/// at the crop location, then mirror, writing CHW floats into `out`
/// (`3 × crop × crop`), as Caffe's data transformer did.
///
/// Runs the same code compiled for AVX2 where [`isa::active`] allows it (the default
/// target is baseline x86-64, whose 4-lane vectors halve this loop's speed).
pub fn crop_into(pixels: &[u8], size: usize, mean: &[f32], crop: usize, c: Crop, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa::avx2() {
        // SAFETY: `isa::avx2` is true only where the CPU has AVX2.
        #[allow(unsafe_code)]
        unsafe {
            crop_avx2(pixels, size, mean, crop, c, out)
        };
        return;
    }
    crop_portable(pixels, size, mean, crop, c, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn crop_avx2(pixels: &[u8], size: usize, mean: &[f32], crop: usize, c: Crop, out: &mut [f32]) {
    crop_portable(pixels, size, mean, crop, c, out);
}

#[inline(always)]
fn crop_portable(pixels: &[u8], size: usize, mean: &[f32], crop: usize, c: Crop, out: &mut [f32]) {
    debug_assert_eq!(pixels.len(), size * size * 3);
    debug_assert_eq!(out.len(), crop * crop * 3);
    // per output row: subtract the mean over the contiguous HWC source row
    // (vectorises), then split the channels into the three CHW rows,
    // reversed when mirrored; no bounds checks in the loops
    let plane = crop * crop;
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let mut row_buf = vec![0f32; crop * 3];
    for y in 0..crop {
        let start = ((c.y + y) * size + c.x) * 3;
        let (src, m) = (&pixels[start..start + crop * 3], &mean[start..start + crop * 3]);
        row_buf.iter_mut().zip(src.iter().zip(m)).for_each(|(o, (&p, &m))| *o = p as f32 - m);
        let row = y * crop..(y + 1) * crop;
        let (r, g, b) = (&mut r[row.clone()], &mut g[row.clone()], &mut b[row]);
        let px = row_buf.as_chunks::<3>().0.iter();
        let put = |((r, g), b): ((&mut f32, &mut f32), &mut f32), v: &[f32; 3]| {
            *r = v[0];
            *g = v[1];
            *b = v[2];
        };
        if c.mirror {
            r.iter_mut().rev().zip(g.iter_mut().rev()).zip(b.iter_mut().rev()).zip(px).for_each(|(o, v)| put(o, v));
        } else {
            r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()).zip(px).for_each(|(o, v)| put(o, v));
        }
    }
}

/// Mean image (HWC, f32) over equally sized images, accumulated in f64.
pub fn mean_image<'a>(images: impl Iterator<Item = &'a [u8]>, size: usize) -> Vec<f32> {
    let mut acc = vec![0f64; size * size * 3];
    let mut n = 0usize;
    for im in images {
        for (a, &p) in acc.iter_mut().zip(im) {
            *a += p as f64;
        }
        n += 1;
    }
    acc.iter().map(|a| (a / n.max(1) as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_crops_cover_the_authors_offset_range() {
        let mut seen = std::collections::BTreeSet::new();
        for d in 0..1000u32 {
            let c = Crop::random(256, 227, [d * 7919, d * 104729 + 3, d]);
            assert!(c.x <= 28 && c.y <= 28);
            seen.insert(c.x);
        }
        assert_eq!(seen.len(), 29, "every offset 0..=28 occurs, 29 never");
        assert_eq!(Crop::centre(256, 227), Crop { x: 14, y: 14, mirror: false });
    }

    #[test]
    fn crop_equals_the_pixel_by_pixel_definition() {
        // a random 9x9 image and mean image, every offset of a 6-px crop, both mirrors
        let (size, crop) = (9, 6);
        let mut rng = crate::synthetic::SplitMix64::new(7);
        let px: Vec<u8> = (0..size * size * 3).map(|_| rng.next_u64() as u8).collect();
        let mean: Vec<f32> = (0..size * size * 3).map(|_| (rng.next_u64() % 1000) as f32 / 7.0).collect();
        for (x, y, mirror) in (0..=size - crop).flat_map(|x| (0..=size - crop).flat_map(move |y| [(x, y, false), (x, y, true)])) {
            let c = Crop { x, y, mirror };
            let mut out = vec![0f32; 3 * crop * crop];
            crop_into(&px, size, &mean, crop, c, &mut out);
            for ch in 0..3 {
                for oy in 0..crop {
                    for ox in 0..crop {
                        let sx = x + if mirror { crop - 1 - ox } else { ox };
                        let src = ((y + oy) * size + sx) * 3 + ch;
                        assert_eq!(out[(ch * crop + oy) * crop + ox], px[src] as f32 - mean[src], "{c:?} ch {ch} ({ox}, {oy})");
                    }
                }
            }
        }
    }

    #[test]
    fn crop_subtracts_mean_then_mirrors() {
        // 3x3 image, value = 10*x + y + 100*channel
        let size = 3;
        let mut px = vec![0u8; 27];
        for y in 0..3 {
            for x in 0..3 {
                for c in 0..3 {
                    px[(y * 3 + x) * 3 + c] = (10 * x + y + 100 * c) as u8;
                }
            }
        }
        let mean = vec![1.0f32; 27];
        let mut out = vec![0f32; 12];
        crop_into(&px, size, &mean, 2, Crop { x: 1, y: 0, mirror: true }, &mut out);
        // channel 0, row 0: source x = 1, 2 mirrored -> [x=2, x=1]
        assert_eq!(&out[0..2], &[19.0, 9.0]);
        // channel 2, row 1: 200 + 10x + 1 - 1
        assert_eq!(&out[10..12], &[220.0, 210.0]);
    }

    #[test]
    fn resize_warps_to_target() {
        let im = Image { width: 7, height: 5, pixels: vec![128; 105] };
        let r = resize(&im, 4, 4);
        assert_eq!((r.width, r.height), (4, 4));
        assert!(r.pixels.iter().all(|&p| p == 128));
    }
}
