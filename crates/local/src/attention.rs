//! The KV cache, and attention for one decode step over it in plain Rust.
//!
//! candle's batched f32 matmul spends more on setup than a one-token query's arithmetic (it
//! even reads /proc/cpuinfo on every call to size its thread pool), and a cache grown by
//! concatenating tensors copies itself at every step. Here each layer keeps one growing buffer
//! per KV head, and a query is cut into spans of positions that run on candle's own thread pool
//! (whose worker is already spinning on the other core between matmuls) and are merged with the
//! usual running-max softmax, as flash attention does.

use std::{ops::Range, sync::OnceLock};

use candle_core::{Device, Result, Tensor};

/// Positions per work item.
const SPAN: usize = 256;
/// Below this many positions a query runs on the calling thread: handing it out would cost
/// more than it saves.
const PARALLEL_FROM: usize = 2 * SPAN;

/// Attention heads: query heads share KV heads in equal groups (grouped-query attention).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub query: usize,
    pub kv: usize,
    pub dim: usize,
}

impl Heads {
    /// Query heads per KV head.
    pub(crate) fn group(self) -> usize {
        self.query / self.kv
    }
}

/// One layer's keys (after RoPE) and values, each `[kv head][position][dim]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct LayerCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

impl LayerCache {
    /// Appends a chunk's keys and values, both `(1, kv heads, positions, dim)`.
    pub(crate) fn append(&mut self, keys: &Tensor, values: &Tensor) -> Result<()> {
        extend(&mut self.keys, keys)?;
        extend(&mut self.values, values)
    }

    /// The whole cache as `(1, kv heads, positions, dim)` keys and values, for a prompt
    /// chunk's batched attention.
    pub(crate) fn tensors(&self, heads: Heads) -> Result<(Tensor, Tensor)> {
        let stacked = |cache: &[Vec<f32>]| {
            Tensor::from_vec(cache.concat(), (1, heads.kv, self.positions(heads), heads.dim), &Device::Cpu)
        };
        Ok((stacked(&self.keys)?, stacked(&self.values)?))
    }

    fn positions(&self, heads: Heads) -> usize {
        self.keys.first().map_or(0, Vec::len) / heads.dim
    }
}

fn extend(cache: &mut Vec<Vec<f32>>, chunk: &Tensor) -> Result<()> {
    let (_, kv_heads, _, _) = chunk.dims4()?;
    let chunk = chunk.flatten_all()?.to_vec1::<f32>()?;
    cache.resize(kv_heads, Vec::new());
    for (head, part) in cache.iter_mut().zip(chunk.chunks_exact(chunk.len() / kv_heads)) {
        head.extend_from_slice(part);
    }
    Ok(())
}

/// Attention of one token over every cached position. `query` and the result are
/// `[query head][dim]`.
pub(crate) fn attend(query: &[f32], cache: &LayerCache, heads: Heads) -> Vec<f32> {
    let positions = cache.positions(heads);
    let spans = positions.div_ceil(SPAN);
    // The query heads that share one KV head sit side by side in `query`.
    let group_width = heads.group() * heads.dim;
    let partials: Vec<OnceLock<Partial>> = (0..heads.kv * spans).map(|_| OnceLock::new()).collect();
    let run = |items: Range<usize>| {
        for item in items {
            let (kv, span) = (item / spans, item % spans);
            let range = span * SPAN..positions.min((span + 1) * SPAN);
            let queries = &query[kv * group_width..(kv + 1) * group_width];
            let partial = Partial::new(queries, &cache.keys[kv], &cache.values[kv], range, heads.dim);
            // Each item is computed exactly once, so the cell is always empty here.
            let _ = partials[item].set(partial);
        }
    };
    if positions >= PARALLEL_FROM {
        candle_core::utils::barrier_pool().execute_chunked(partials.len(), run);
    } else {
        run(0..partials.len());
    }
    partials
        .chunks(spans.max(1))
        .flat_map(|group_spans| Partial::merge(group_spans.iter().filter_map(OnceLock::get), heads))
        .collect()
}

/// Softmax-weighted values over one span of positions for each query head of a group, left
/// unnormalised beside the span's largest score so that spans can be merged.
struct Partial {
    max: Vec<f32>,
    total: Vec<f32>,
    /// `[head][dim]`
    weighted: Vec<f32>,
}

impl Partial {
    fn new(queries: &[f32], keys: &[f32], values: &[f32], range: Range<usize>, dim: usize) -> Self {
        let scale = 1.0 / (dim as f32).sqrt();
        let n = range.len();
        let (keys, values) =
            (&keys[range.start * dim..range.end * dim], &values[range.start * dim..range.end * dim]);
        let mut scores = vec![0f32; queries.len() / dim * n];
        // Each key is read once for every query head that shares it.
        for (position, key) in keys.chunks_exact(dim).enumerate() {
            for (scores, query) in scores.chunks_exact_mut(n).zip(queries.chunks_exact(dim)) {
                scores[position] = dot(query, key) * scale;
            }
        }
        let (mut max, mut total) = (Vec::new(), Vec::new());
        for scores in scores.chunks_exact_mut(n) {
            let largest = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for score in scores.iter_mut() {
                *score = (*score - largest).exp();
                sum += *score;
            }
            max.push(largest);
            total.push(sum);
        }
        let mut weighted = vec![0f32; queries.len()];
        for (position, value) in values.chunks_exact(dim).enumerate() {
            for (scores, out) in scores.chunks_exact(n).zip(weighted.chunks_exact_mut(dim)) {
                let weight = scores[position];
                for (out, value) in out.iter_mut().zip(value) {
                    *out += weight * value;
                }
            }
        }
        Self { max, total, weighted }
    }

    /// The normalised output of each query head in a group, `[head][dim]`, from its spans.
    fn merge<'a>(spans: impl Iterator<Item = &'a Self>, heads: Heads) -> Vec<f32> {
        let spans: Vec<&Self> = spans.collect();
        let mut out = vec![0f32; heads.group() * heads.dim];
        for (head, out) in out.chunks_exact_mut(heads.dim).enumerate() {
            let max = spans.iter().map(|span| span.max[head]).fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0.0;
            for span in &spans {
                let factor = (span.max[head] - max).exp();
                total += span.total[head] * factor;
                let weighted = &span.weighted[head * heads.dim..(head + 1) * heads.dim];
                for (out, weighted) in out.iter_mut().zip(weighted) {
                    *out += weighted * factor;
                }
            }
            out.iter_mut().for_each(|out| *out /= total);
        }
        out
    }
}

/// Eight running sums rather than one, so the compiler can vectorise: a single float sum
/// must be added in order.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(a, b)| a * b).sum();
    for (a, b) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            sums[i] += a[i] * b[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use candle_nn::ops;
    use candle_transformers::utils::repeat_kv;

    use super::*;

    const HEADS: Heads = Heads { query: 9, kv: 3, dim: 64 };

    /// `attend` against candle's batched formula, on a cache filled in two appends.
    fn matches_the_batched_formula(positions: usize) -> Result<()> {
        let random = |shape: (usize, usize, usize, usize)| Tensor::randn(0f32, 1.0, shape, &Device::Cpu);
        let mut cache = LayerCache::default();
        let first = positions / 3;
        cache.append(&random((1, 3, first, 64))?, &random((1, 3, first, 64))?)?;
        cache.append(&random((1, 3, positions - first, 64))?, &random((1, 3, positions - first, 64))?)?;
        let query = random((1, 9, 1, 64))?;

        let ours = attend(&query.flatten_all()?.to_vec1::<f32>()?, &cache, HEADS);

        let (keys, values) = cache.tensors(HEADS)?;
        let scores = (query.matmul(&repeat_kv(keys, 3)?.t()?)? / 8.0)?;
        let batched = ops::softmax_last_dim(&scores)?.matmul(&repeat_kv(values, 3)?)?;
        let batched = batched.flatten_all()?.to_vec1::<f32>()?;
        assert_eq!(ours.len(), batched.len());
        for (a, b) in ours.iter().zip(&batched) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b} at {positions} positions");
        }
        Ok(())
    }

    #[test]
    fn one_span_on_the_calling_thread() -> Result<()> {
        matches_the_batched_formula(37)
    }

    #[test]
    fn many_spans_on_the_thread_pool() -> Result<()> {
        matches_the_batched_formula(3 * SPAN + 17)
    }
}
