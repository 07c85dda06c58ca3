//! SmolLM2's forward pass (GGUF architecture `llama`) on candle's tensor ops.
//!
//! Ours rather than candle-transformers' `quantized_llama` for speed. candle's fast int8
//! kernels (AVX-512 VNNI or AVX-VNNI, weights repacked into 16-row tiles) need the inner
//! dimension to be a multiple of 256, and SmolLM2's hidden size is 576, so every projection
//! but one fell back to a row-at-a-time AVX2 dot product. Zero-padding those weight rows to 768
//! (and the activations with them) adds a third more multiply-adds, yet each projection runs
//! about 3x faster. The padding happens only where those kernels exist; elsewhere it would only
//! add work. The projections that read the same input (q, k, v and gate, up) run fused: one
//! quantization of the input, one parallel region. Decode attention is [`crate::attention`]'s.
//! The rest follows `quantized_llama`.

use std::{borrow::Cow, io, sync::Arc};

use candle_core::{
    D, DType, Device, IndexOp, Module, Result, Tensor,
    quantized::{GgmlDType, QMatMul, QStorage, QTensor, gguf_file},
};
use candle_nn::{ops, rotary_emb};
use candle_transformers::utils::{build_additive_causal_mask, repeat_kv};

use crate::attention::{self, Heads, LayerCache};

/// Shape of the network, from the GGUF metadata.
#[derive(Debug, Clone, Copy)]
struct Shape {
    heads: Heads,
    norm_eps: f32,
}

/// Keys and values of the tokens seen so far, per layer. One per answer, so every answer
/// starts from an empty cache.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<LayerCache>,
}

/// Weight matrices that read the same input, so the input is padded (and, in decode,
/// quantized) once for all of them.
struct Projections {
    weights: Vec<Arc<QTensor>>,
    matmuls: Vec<QMatMul>,
    /// Zero columns appended to each weight row, and so to the input.
    pad: usize,
}

impl Projections {
    fn new(weights: Vec<QTensor>) -> Result<Self> {
        Self::shared(weights.into_iter().map(Arc::new).collect())
    }

    /// Over weights that may be used elsewhere too (the tied embeddings), copied only to pad.
    fn shared(weights: Vec<Arc<QTensor>>) -> Result<Self> {
        let (_, k) = weights[0].shape().dims2()?;
        let pad = padded_width(k, weights[0].dtype()) - k;
        let weights = weights
            .into_iter()
            .map(|w| Ok(if pad == 0 { w } else { Arc::new(pad_rows(&w, k + pad)?) }))
            .collect::<Result<Vec<_>>>()?;
        let matmuls = weights.iter().map(|w| QMatMul::from_arc(Arc::clone(w))).collect::<Result<_>>()?;
        Ok(Self { weights, matmuls, pad })
    }

    /// The `N` projections of `x`, in the order the weights were given.
    fn forward<const N: usize>(&self, x: &Tensor) -> Result<[Tensor; N]> {
        let outputs = self.outputs(x)?;
        outputs
            .try_into()
            .map_err(|_| candle_core::Error::Msg(format!("{} projections, not {N}", self.weights.len())))
    }

    fn outputs(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let x = if self.pad == 0 {
            Cow::Borrowed(x)
        } else {
            Cow::Owned(x.pad_with_zeros(D::Minus1, 0, self.pad)?)
        };
        if self.weights.len() > 1 {
            let weights: Vec<&QTensor> = self.weights.iter().map(Arc::as_ref).collect();
            // On the fast kernels: one quantization of the input, one parallel region.
            if let Some(outputs) = QTensor::gemv_fused_shared_lhs(&weights, &x)? {
                return Ok(outputs);
            }
        }
        self.matmuls.iter().map(|m| m.forward(&x)).collect()
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

struct Layer {
    attention_norm: Tensor,
    qkv: Projections,
    attention_out: Projections,
    ffn_norm: Tensor,
    gate_up: Projections,
    down: Projections,
}

/// The loaded network. Immutable: per-answer state lives in [`KvCache`].
pub struct Model {
    shape: Shape,
    /// Quantized like the weights, and dequantized a row at a time: the whole table in f32
    /// would be 113 MB.
    embeddings: Arc<QTensor>,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Projections,
    /// RoPE tables for every position up to the context limit.
    cos: Tensor,
    sin: Tensor,
}

impl Model {
    pub fn from_gguf<R: io::Read + io::Seek>(content: &gguf_file::Content, reader: &mut R) -> Result<Self> {
        let metadata = |key: &str| {
            content.metadata.get(key).ok_or_else(|| candle_core::Error::Msg(format!("GGUF has no {key}")))
        };
        let number = |key: &str| -> Result<usize> { Ok(metadata(key)?.to_u32()? as usize) };
        let hidden = number("llama.embedding_length")?;
        let heads = number("llama.attention.head_count")?;
        let shape = Shape {
            heads: Heads { query: heads, kv: number("llama.attention.head_count_kv")?, dim: hidden / heads },
            norm_eps: metadata("llama.attention.layer_norm_rms_epsilon")?.to_f32()?,
        };
        let rope_base = metadata("llama.rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.0);
        let mut tensor = |name: &str| content.tensor(reader, name, &Device::Cpu);

        let embeddings = Arc::new(tensor("token_embd.weight")?);
        // SmolLM2 ties the output head to the embeddings.
        let output = tensor("output.weight").map_or_else(|_| Arc::clone(&embeddings), Arc::new);
        let norm = tensor("output_norm.weight")?.dequantize(&Device::Cpu)?;
        let layers = (0..number("llama.block_count")?)
            .map(|i| {
                let mut weight = |name: &str| tensor(&format!("blk.{i}.{name}.weight"));
                Ok(Layer {
                    attention_norm: weight("attn_norm")?.dequantize(&Device::Cpu)?,
                    qkv: Projections::new(vec![weight("attn_q")?, weight("attn_k")?, weight("attn_v")?])?,
                    attention_out: Projections::new(vec![weight("attn_output")?])?,
                    ffn_norm: weight("ffn_norm")?.dequantize(&Device::Cpu)?,
                    gate_up: Projections::new(vec![weight("ffn_gate")?, weight("ffn_up")?])?,
                    down: Projections::new(vec![weight("ffn_down")?])?,
                })
            })
            .collect::<Result<_>>()?;
        let (cos, sin) = rope_tables(shape.heads.dim, rope_base)?;
        Ok(Self { shape, embeddings, layers, norm, output: Projections::shared(vec![output])?, cos, sin })
    }

    /// Runs `tokens`, the first at `position`, and returns the logits for the token after the last.
    pub fn forward(&self, cache: &mut KvCache, tokens: &[u32], position: usize) -> Result<Tensor> {
        let seq_len = tokens.len();
        if seq_len == 0 {
            candle_core::bail!("no tokens to run");
        }
        cache.layers.resize(self.layers.len(), LayerCache::default());
        let mask = if seq_len > 1 {
            Some(build_additive_causal_mask(seq_len, position, None, &Device::Cpu, DType::F32)?)
        } else {
            None
        };
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embeddings.embedding(&ids)?.unsqueeze(0)?;
        for (layer, kv) in self.layers.iter().zip(&mut cache.layers) {
            let h = ops::rms_norm(&x, &layer.attention_norm, self.shape.norm_eps)?;
            x = (x + self.attention(layer, kv, &h, mask.as_ref(), position)?)?;
            let h = ops::rms_norm(&x, &layer.ffn_norm, self.shape.norm_eps)?;
            let [gate, up] = layer.gate_up.forward(&h)?;
            let [down] = layer.down.forward(&(gate.silu()? * up)?)?;
            x = (x + down)?;
        }
        let last = x.i((.., seq_len - 1, ..))?;
        let [logits] = self.output.forward(&ops::rms_norm(&last, &self.norm, self.shape.norm_eps)?)?;
        logits.squeeze(0)
    }

    fn attention(
        &self,
        layer: &Layer,
        cache: &mut LayerCache,
        x: &Tensor,
        mask: Option<&Tensor>,
        position: usize,
    ) -> Result<Tensor> {
        let heads = self.shape.heads;
        let (batch, seq_len, hidden) = x.dims3()?;
        let [q, k, v] = layer.qkv.forward(x)?;
        let heads_first = |t: Tensor, count: usize| {
            t.reshape((batch, seq_len, count, heads.dim))?.transpose(1, 2)?.contiguous()
        };
        let cos = self.cos.narrow(0, position, seq_len)?;
        let sin = self.sin.narrow(0, position, seq_len)?;
        let q = rotary_emb::rope_i(&heads_first(q, heads.query)?, &cos, &sin)?;
        let k = rotary_emb::rope_i(&heads_first(k, heads.kv)?, &cos, &sin)?;
        cache.append(&k, &heads_first(v, heads.kv)?)?;

        let y = if seq_len == 1 {
            let y = attention::attend(&q.flatten_all()?.to_vec1::<f32>()?, cache, heads);
            Tensor::from_vec(y, (batch, seq_len, hidden), &Device::Cpu)?
        } else {
            // A prompt chunk: candle's batched matmuls over the whole cache.
            let (keys, values) = cache.tensors(heads)?;
            let group = heads.query / heads.kv;
            // Scaled before the product: q is a sliver of the size of the scores.
            let q = (q / (heads.dim as f64).sqrt())?;
            let scores = q.matmul(&repeat_kv(keys, group)?.t()?)?;
            let scores = match mask {
                Some(mask) => scores.broadcast_add(mask)?,
                None => scores,
            };
            let y = ops::softmax_last_dim(&scores)?.matmul(&repeat_kv(values, group)?)?;
            y.transpose(1, 2)?.reshape((batch, seq_len, hidden))?
        };
        let [out] = layer.attention_out.forward(&y)?;
        Ok(out)
    }
}

/// cos and sin of every (position, frequency) pair, for positions up to the context limit.
fn rope_tables(head_dim: usize, base: f32) -> Result<(Tensor, Tensor)> {
    let frequencies: Vec<f32> =
        (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
    let frequencies = Tensor::new(frequencies.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let positions = Tensor::arange(0, crate::MAX_CONTEXT_TOKENS as u32, &Device::Cpu)?
        .to_dtype(DType::F32)?
        .unsqueeze(1)?;
    let angles = positions.broadcast_mul(&frequencies)?;
    Ok((angles.cos()?, angles.sin()?))
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

    /// The real model, loaded once for the tests that run it.
    fn model() -> &'static (Model, crate::tokenizer::ChatTokenizer) {
        static MODEL: std::sync::OnceLock<(Model, crate::tokenizer::ChatTokenizer)> =
            std::sync::OnceLock::new();
        MODEL.get_or_init(|| {
            crate::weights::load(&crate::tests::model_path()).expect("the model; run `just model`")
        })
    }

    const ANSWERED: &str = "<|im_start|>user\nWhat is the water cycle?<|im_end|>\n<|im_start|>assistant\n\
        The water cycle is the continuous movement of water on, above and below the surface of the Earth. \
        Water evaporates from oceans, lakes and rivers when the sun heats it, and rises into the atmosphere \
        as water vapour. As the vapour rises it cools and condenses into tiny droplets that form clouds. \
        When the droplets grow heavy enough they fall back to the ground as rain, snow, sleet or hail.";

    /// Teacher-forced on a plain answer, the model must find the text likely: a broken
    /// attention, RoPE or padding shows up as a much higher loss. With f32 weights it is 2.18
    /// nats per token, with Q8_0 2.20 whether padded or not.
    #[test]
    fn predicts_ordinary_text() -> Result<()> {
        let (model, tokenizer) = model();
        let ids = tokenizer.encode(ANSWERED);
        let mut cache = KvCache::default();
        let mut loss = 0.0;
        for (position, pair) in ids.windows(2).enumerate() {
            let logits = model.forward(&mut cache, &pair[..1], position)?;
            let log_probs = ops::log_softmax(&logits, 0)?;
            loss -= f64::from(log_probs.get(pair[1] as usize)?.to_scalar::<f32>()?);
        }
        let loss = loss / (ids.len() - 1) as f64;
        assert!(loss < 2.4, "mean loss {loss:.3} nats per token");
        Ok(())
    }
}
