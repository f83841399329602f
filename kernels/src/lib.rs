//! CPU kernels for AlexNet on burn's `flex` backend: the only crate of the
//! workspace with `unsafe` SIMD code, kept apart from the network a reader
//! comes to `model` for.
//!
//! * [`sgemm`]: the packed single-precision GEMM (an AVX-512 kernel with
//!   12×32 register tiles, an AVX2 + FMA one with 6×16 tiles, the `gemm`
//!   crate elsewhere) that packs its right operand from any [`sgemm::Operand`];
//! * [`conv`]: convolution + ReLU as one op, forward and backward, with the
//!   `im2col` matrix gathered block by block instead of written out, and
//!   stride-1 "same" layers (`direct`, from AVX2 up) read in place from a
//!   padded layout, with no `im2col` at all;
//! * [`pool`]: Caffe's ceil-mode max pooling; [`lrn`]: Caffe's local
//!   response normalisation across channels; both with hand-written
//!   backward passes;
//! * `simd`: the element-wise loops built plain, for AVX2 + FMA and for
//!   AVX-512, chosen at run time by [`isa::active`], with the same bits;
//! * [`gram`]: the f64 Gram matrix of an activation matrix (linear CKA's
//!   cost), on the `gemm` crate;
//! * [`memory`]: keep freed memory in the process (glibc `mallopt`, and
//!   [`memory::KeepLarge`], the binaries' global allocator, for large blocks);
//! * [`peak`]: the machine's multiply-add peak, measured (what benchmarks
//!   report their GFLOP/s as a fraction of).
//!
//! Each op is a burn backend extension: on a flex device (with or without
//! autodiff) it runs here; anywhere else (libtorch, CUDA) it runs burn's
//! own layer. `tests/custom_ops.rs` compares both, value and gradients.

pub mod conv;
mod direct;
pub mod gram;
pub mod lrn;
pub mod memory;
pub mod peak;
pub mod pool;
pub mod sgemm;
mod simd;
