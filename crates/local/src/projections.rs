//! The weight matrices of the network, run on candle's quantized kernels.
//!
//! candle's fastest int8 kernels (AVX-512 VNNI or AVX-VNNI, weights repacked into 16-row tiles)
//! need the inner dimension to be a multiple of 256, and SmolLM2's hidden size is 576, so every
//! projection but one would fall back to a row-at-a-time AVX2 dot product. Zero-padding those
//! weight rows to 768 (and the activations with them) adds a third more multiply-adds, yet each
//! projection runs 2–3.5x faster. The padding happens only where those kernels exist; elsewhere
//! it would only add work.
//!
//! A decode step may run on the unpadded weights instead: see [`crate::decode_kernels`].

use std::{borrow::Cow, sync::Arc};

use candle_core::{
    D, Device, Module, Result, Tensor,
    quantized::{GgmlDType, QMatMul, QStorage, QTensor},
};

use crate::decode_kernels::{DecodeChoice, DecodeKernels, alternating_medians};

/// Weight matrices that read the same input, so the input is padded and quantized once for
/// all of them.
pub(crate) struct Projections {
    matmuls: Vec<QMatMul>,
    /// The same weights unpadded, for a single row, where [`DecodeKernels::Rows`] was chosen.
    rows: Vec<QMatMul>,
    /// Zero columns appended to each weight row, and so to the input.
    pad: usize,
}

impl Projections {
    pub(crate) fn new(weights: Vec<QTensor>, decode: DecodeKernels) -> Result<Self> {
        Self::shared(weights.into_iter().map(Arc::new).collect(), decode)
    }

    /// Over weights that may be used elsewhere too (the tied embeddings), copied only to pad.
    pub(crate) fn shared(weights: Vec<Arc<QTensor>>, decode: DecodeKernels) -> Result<Self> {
        let (_, k) = weights[0].shape().dims2()?;
        let pad = padded_width(k, weights[0].dtype()) - k;
        let rows = if pad > 0 && decode == DecodeKernels::Rows {
            weights.iter().map(|w| QMatMul::from_arc(Arc::clone(w))).collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let matmuls = weights
            .into_iter()
            .map(|w| QMatMul::from_arc(if pad == 0 { w } else { Arc::new(pad_rows(&w, k + pad)?) }))
            .collect::<Result<_>>()?;
        Ok(Self { matmuls, rows, pad })
    }

    /// The output head, with the decode kernels chosen by timing it both ways on one row: the
    /// largest matrix of the network, so the one where reading the weights counts most.
    pub(crate) fn tuned_head(head: Arc<QTensor>) -> Result<(Self, DecodeChoice)> {
        if !kernel_path().pads() {
            return Ok((Self::shared(vec![head], DecodeKernels::Rows)?, DecodeChoice::unpadded()));
        }
        let (_, k) = head.shape().dims2()?;
        let mut both = Self::shared(vec![head], DecodeKernels::Rows)?;
        if both.rows.is_empty() {
            // A head in another type than the layers is not padded: nothing to time, and the
            // layers keep to the tiles, which need no second copy.
            return Ok((both, DecodeChoice::untimed()));
        }
        let x = Tensor::randn(0f32, 1.0, (1, k), &Device::Cpu)?;
        let choice = DecodeChoice::from_timings(alternating_medians(
            || run_all(&both.matmuls, &x, both.pad),
            || run_all(&both.rows, &x, 0),
        )?);
        if choice.kernels == DecodeKernels::Tiles {
            both.rows.clear();
        }
        Ok((both, choice))
    }

    /// The `N` projections of `x`, in the order the weights were given.
    pub(crate) fn forward<const N: usize>(&self, x: &Tensor) -> Result<[Tensor; N]> {
        let outputs = self.outputs(x)?;
        outputs
            .try_into()
            .map_err(|_| candle_core::Error::Msg(format!("{} projections, not {N}", self.matmuls.len())))
    }

    fn outputs(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        if !self.rows.is_empty() && x.elem_count() == x.dim(D::Minus1)? {
            return self.rows.iter().map(|m| m.forward(x)).collect();
        }
        let x = padded(x, self.pad)?;
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

/// Runs `x`, padded by `pad` zero columns, through each of `matmuls`.
fn run_all(matmuls: &[QMatMul], x: &Tensor, pad: usize) -> Result<()> {
    let x = padded(x, pad)?;
    for m in matmuls {
        m.forward(&x)?;
    }
    Ok(())
}

/// `x` with `pad` zero columns appended, as the padded weights expect.
fn padded(x: &Tensor, pad: usize) -> Result<Cow<'_, Tensor>> {
    Ok(if pad == 0 { Cow::Borrowed(x) } else { Cow::Owned(x.pad_with_zeros(D::Minus1, 0, pad)?) })
}

/// The inner dimension candle's fastest kernel for `dtype` accepts on this CPU.
fn padded_width(k: usize, dtype: GgmlDType) -> usize {
    const SUPERBLOCK: usize = 256;
    if dtype == GgmlDType::Q8_0 && kernel_path().pads() { k.next_multiple_of(SUPERBLOCK) } else { k }
}

/// The kernels candle runs the Q8_0 weight matrices on here, which decides whether they are
/// padded. The bench names it beside its figures: the same file runs differently per CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPath {
    /// 512-bit int8 dot products over weights repacked into 16-row tiles; projections that
    /// share an input run as one fused call.
    Avx512VnniTiles,
    /// The same tiles with 256-bit AVX-VNNI, one projection at a time.
    AvxVnniTiles,
    /// candle's row-at-a-time dot product (AVX2 on x86): no int8 tile kernel for Q8_0 here.
    RowDot,
}

impl KernelPath {
    /// Whether the inner dimension is zero-padded to a multiple of 256 for the tile kernels.
    pub fn pads(self) -> bool {
        self != Self::RowDot
    }
}

impl std::fmt::Display for KernelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kernels = match self {
            Self::Avx512VnniTiles => "AVX-512 VNNI int8 tiles, fused projections",
            Self::AvxVnniTiles => "AVX-VNNI int8 tiles (256-bit)",
            Self::RowDot => "row-at-a-time dot products",
        };
        let padding = if self.pads() { "on" } else { "off" };
        write!(f, "Q8_0 on {kernels}; VNNI padding {padding}")
    }
}

/// The path on this CPU, decided once as candle decides it (`repack_x86::level`).
pub fn kernel_path() -> KernelPath {
    static PATH: std::sync::OnceLock<KernelPath> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| path_for(Cpu::detect()))
}

/// What candle's choice depends on: CPU features and its two override variables.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    avx512f: bool,
    avx512vnni: bool,
    avxvnni: bool,
    avx2: bool,
    /// `MISTRALRS_FORCE_AVX2=1`: candle keeps off every int8 tile kernel.
    force_avx2: bool,
    /// `MISTRALRS_FORCE_AVXVNNI=1`: candle takes the 256-bit tiles even on AVX-512.
    force_avxvnni: bool,
}

impl Cpu {
    #[cfg(target_arch = "x86_64")]
    fn detect() -> Self {
        let set = |name: &str| std::env::var(name).as_deref() == Ok("1");
        Self {
            avx512f: is_x86_feature_detected!("avx512f"),
            avx512vnni: is_x86_feature_detected!("avx512vnni"),
            avxvnni: is_x86_feature_detected!("avxvnni"),
            avx2: is_x86_feature_detected!("avx2"),
            force_avx2: set("MISTRALRS_FORCE_AVX2"),
            force_avxvnni: set("MISTRALRS_FORCE_AVXVNNI"),
        }
    }

    /// candle's tile kernels are x86 only.
    #[cfg(not(target_arch = "x86_64"))]
    fn detect() -> Self {
        Self::default()
    }
}

/// candle 0.11's order: AVX-512 VNNI, then AVX-VNNI; its AVX2-only tier skips Q8_0 (the
/// unsigned multiply would overflow), which leaves the row kernel.
fn path_for(cpu: Cpu) -> KernelPath {
    let forced = cpu.force_avx2 || cpu.force_avxvnni;
    if !forced && cpu.avx512f && cpu.avx512vnni {
        KernelPath::Avx512VnniTiles
    } else if !cpu.force_avx2 && (cpu.force_avxvnni || cpu.avxvnni) && cpu.avx2 {
        KernelPath::AvxVnniTiles
    } else {
        KernelPath::RowDot
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

    fn random_q8_0(rows: usize, k: usize) -> Result<QTensor> {
        QTensor::quantize(&Tensor::randn(0f32, 1.0, (rows, k), &Device::Cpu)?, GgmlDType::Q8_0)
    }

    #[test]
    fn one_row_runs_on_the_unpadded_weights_only_where_rows_were_chosen() -> Result<()> {
        let weight = Arc::new(random_q8_0(64, 576)?);
        let on_rows = Projections::shared(vec![Arc::clone(&weight)], DecodeKernels::Rows)?;
        let on_tiles = Projections::shared(vec![Arc::clone(&weight)], DecodeKernels::Tiles)?;
        let unpadded = QMatMul::from_arc(Arc::clone(&weight))?;
        assert_eq!(on_rows.rows.len(), usize::from(kernel_path().pads()));
        assert!(on_tiles.rows.is_empty());

        let row = Tensor::randn(0f32, 1.0, (1, 576), &Device::Cpu)?;
        let [decoded] = on_rows.forward(&row)?;
        assert_eq!(decoded.to_vec2::<f32>()?, unpadded.forward(&row)?.to_vec2::<f32>()?);

        // A prompt chunk takes the padded tiles whatever decode runs on.
        let chunk = Tensor::randn(0f32, 1.0, (1, 5, 576), &Device::Cpu)?;
        let [from_rows] = on_rows.forward(&chunk)?;
        let [from_tiles] = on_tiles.forward(&chunk)?;
        assert_eq!(from_rows.to_vec3::<f32>()?, from_tiles.to_vec3::<f32>()?);
        Ok(())
    }

    #[test]
    fn the_head_is_timed_both_ways_where_the_tiles_pad() -> Result<()> {
        let (head, choice) = Projections::tuned_head(Arc::new(random_q8_0(256, 576)?))?;
        assert_eq!(choice.head.is_some(), kernel_path().pads());
        assert_eq!(head.rows.is_empty(), choice.kernels == DecodeKernels::Tiles || !kernel_path().pads());
        let [logits] = head.forward(&Tensor::randn(0f32, 1.0, (1, 576), &Device::Cpu)?)?;
        assert_eq!(logits.dims(), [1, 256]);
        Ok(())
    }

    #[test]
    fn padding_only_where_the_tile_kernels_run() {
        let expected = if kernel_path().pads() { 768 } else { 576 };
        assert_eq!(padded_width(576, GgmlDType::Q8_0), expected);
        assert_eq!(padded_width(1536, GgmlDType::Q8_0), 1536);
        assert_eq!(padded_width(576, GgmlDType::F32), 576);
    }

    #[test]
    fn the_kernel_path_follows_candles_order_and_overrides() {
        let sapphire_rapids =
            Cpu { avx512f: true, avx512vnni: true, avxvnni: true, avx2: true, ..Cpu::default() };
        let zen4 = Cpu { avxvnni: false, ..sapphire_rapids };
        let alder_lake = Cpu { avx512f: false, avx512vnni: false, ..sapphire_rapids };
        let haswell = Cpu { avx2: true, ..Cpu::default() };

        assert_eq!(path_for(sapphire_rapids), KernelPath::Avx512VnniTiles);
        assert_eq!(path_for(zen4), KernelPath::Avx512VnniTiles);
        assert_eq!(path_for(alder_lake), KernelPath::AvxVnniTiles);
        assert_eq!(path_for(haswell), KernelPath::RowDot);
        assert_eq!(path_for(Cpu::default()), KernelPath::RowDot);
        assert_eq!(path_for(Cpu { force_avx2: true, ..sapphire_rapids }), KernelPath::RowDot);
        assert_eq!(path_for(Cpu { force_avxvnni: true, ..zen4 }), KernelPath::AvxVnniTiles);
    }

    #[test]
    fn the_kernel_path_names_its_padding() {
        assert_eq!(
            KernelPath::Avx512VnniTiles.to_string(),
            "Q8_0 on AVX-512 VNNI int8 tiles, fused projections; VNNI padding on"
        );
        assert_eq!(KernelPath::RowDot.to_string(), "Q8_0 on row-at-a-time dot products; VNNI padding off");
    }
}
