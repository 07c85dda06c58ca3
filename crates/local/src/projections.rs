//! The weight matrices of the network, run on candle's quantized kernels.
//!
//! candle's fastest int8 kernels (AVX-512 VNNI or AVX-VNNI, weights repacked into 16-row tiles)
//! need the inner dimension to be a multiple of 256, and SmolLM2's hidden size is 576, so every
//! projection but one would fall back to a row-at-a-time AVX2 dot product. Zero-padding those
//! weight rows to 768 (and the activations with them) adds a third more multiply-adds, yet each
//! projection runs 2–3.5x faster. The padding happens only where those kernels exist; elsewhere
//! it would only add work.

use std::{borrow::Cow, sync::Arc};

use candle_core::{
    D, Device, Module, Result, Tensor,
    quantized::{GgmlDType, QMatMul, QStorage, QTensor},
};

/// Weight matrices that read the same input, so the input is padded and quantized once for
/// all of them.
pub struct Projections {
    matmuls: Vec<QMatMul>,
    /// Zero columns appended to each weight row, and so to the input.
    pad: usize,
}

impl Projections {
    pub fn new(weights: Vec<QTensor>) -> Result<Self> {
        Self::shared(weights.into_iter().map(Arc::new).collect())
    }

    /// Over weights that may be used elsewhere too (the tied embeddings), copied only to pad.
    pub fn shared(weights: Vec<Arc<QTensor>>) -> Result<Self> {
        let (_, k) = weights[0].shape().dims2()?;
        let pad = padded_width(k, weights[0].dtype()) - k;
        let matmuls = weights
            .into_iter()
            .map(|w| QMatMul::from_arc(if pad == 0 { w } else { Arc::new(pad_rows(&w, k + pad)?) }))
            .collect::<Result<_>>()?;
        Ok(Self { matmuls, pad })
    }

    /// The `N` projections of `x`, in the order the weights were given.
    pub fn forward<const N: usize>(&self, x: &Tensor) -> Result<[Tensor; N]> {
        let outputs = self.outputs(x)?;
        outputs
            .try_into()
            .map_err(|_| candle_core::Error::Msg(format!("{} projections, not {N}", self.matmuls.len())))
    }

    fn outputs(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let x = if self.pad == 0 {
            Cow::Borrowed(x)
        } else {
            Cow::Owned(x.pad_with_zeros(D::Minus1, 0, self.pad)?)
        };
        // On the fast kernels: one quantization of the input, one parallel region.
        if self.matmuls.len() > 1
            && let Some(weights) = self.quantized()
            && let Some(outputs) = QTensor::gemv_fused_shared_lhs(&weights, &x)?
        {
            return Ok(outputs);
        }
        self.matmuls.iter().map(|m| m.forward(&x)).collect()
    }

    /// The weights, when all of them are still quantized (candle dequantizes f32 and f16 ones).
    fn quantized(&self) -> Option<Vec<&QTensor>> {
        self.matmuls
            .iter()
            .map(|m| match m {
                QMatMul::QTensor(w) => Some(w.as_ref()),
                QMatMul::Tensor(_) | QMatMul::TensorF16(_) => None,
            })
            .collect()
    }
}

/// The inner dimension candle's fastest kernel for `dtype` accepts on this CPU.
fn padded_width(k: usize, dtype: GgmlDType) -> usize {
    const SUPERBLOCK: usize = 256;
    if dtype == GgmlDType::Q8_0 && has_int8_tile_kernels() { k.next_multiple_of(SUPERBLOCK) } else { k }
}

/// Whether candle's repacked Q8_0 kernels run here (the check mirrors candle's own).
fn has_int8_tile_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"))
            || (is_x86_feature_detected!("avxvnni") && is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Appends zero blocks to every row of a Q8_0 matrix: a zero scale and zero quants, so the
/// products are exactly those of the original row.
fn pad_rows(weight: &QTensor, width: usize) -> Result<QTensor> {
    let (rows, k) = weight.shape().dims2()?;
    let block = GgmlDType::Q8_0.type_size();
    let blocks = GgmlDType::Q8_0.block_size();
    let (row_bytes, padded_bytes) = (k / blocks * block, width / blocks * block);
    let data = weight.data()?;
    let mut padded = vec![0u8; rows * padded_bytes];
    for (from, to) in data.chunks_exact(row_bytes).zip(padded.chunks_exact_mut(padded_bytes)) {
        to[..row_bytes].copy_from_slice(from);
    }
    let storage = QStorage::from_data(Cow::Owned(padded), &Device::Cpu, GgmlDType::Q8_0)?;
    QTensor::new(storage, (rows, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_rows_hold_the_same_weights_then_zeros() -> Result<()> {
        let weight = QTensor::quantize(&Tensor::randn(0f32, 1.0, (64, 576), &Device::Cpu)?, GgmlDType::Q8_0)?;
        let padded = pad_rows(&weight, 768)?.dequantize(&Device::Cpu)?;
        assert_eq!(padded.dims(), [64, 768]);
        let original = weight.dequantize(&Device::Cpu)?;
        assert_eq!(padded.narrow(1, 0, 576)?.to_vec2::<f32>()?, original.to_vec2::<f32>()?);
        assert_eq!(padded.narrow(1, 576, 192)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);

        let x = Tensor::randn(0f32, 1.0, (1, 576), &Device::Cpu)?;
        let padded = QMatMul::from_qtensor(pad_rows(&weight, 768)?)?.forward(&x.pad_with_zeros(
            D::Minus1,
            0,
            192,
        )?)?;
        let exact = x.matmul(&original.t()?)?;
        let largest = exact.abs()?.max_all()?.to_scalar::<f32>()?;
        let difference = (padded - exact)?.abs()?.max_all()?.to_scalar::<f32>()?;
        // Within what quantizing the input to 8 bits costs.
        assert!(difference <= largest * 3e-2, "padded product off by {difference} (largest {largest})");
        Ok(())
    }

    #[test]
    fn padding_only_where_the_tile_kernels_run() {
        let expected = if has_int8_tile_kernels() { 768 } else { 576 };
        assert_eq!(padded_width(576, GgmlDType::Q8_0), expected);
        assert_eq!(padded_width(1536, GgmlDType::Q8_0), 1536);
        assert_eq!(padded_width(576, GgmlDType::F32), 576);
    }
}
