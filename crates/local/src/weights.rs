//! Loading the GGUF. candle has no SIMD kernel for Q4_1, so the Q4_1 tensors are re-encoded
//! to Q8_0 (AVX2 kernels; nearly lossless, since Q4_1 has 16 levels per block) and written
//! once beside the original, so later starts load the converted file directly.

use std::{
    fs::File,
    io::{BufReader, BufWriter},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use candle_core::{
    Device,
    quantized::{GgmlDType, QTensor, gguf_file},
};

use crate::{LoadError, model::Model, tokenizer::ChatTokenizer};

/// `models/X.Q4_1.gguf` → `models/X.Q4_1.q8_0.gguf`.
fn cache_path(model: &Path) -> PathBuf {
    model.with_extension("q8_0.gguf")
}

/// Loads the model and its tokenizer, converting and caching the weights on first use.
pub(crate) fn load(path: &Path) -> Result<(Model, ChatTokenizer), LoadError> {
    if !path.is_file() {
        return Err(LoadError::Missing(path.to_owned()));
    }
    let cache = cache_path(path);
    if cache.is_file() {
        match load_file(&cache) {
            Ok(loaded) => return Ok(loaded),
            Err(e) => {
                tracing::warn!(cache = %cache.display(), error = %e, "converted weights unreadable; converting again")
            }
        }
    }
    convert(path, &cache)?;
    load_file(&cache)
}

/// The quantization of a GGUF file's weight matrices ("Q4_1", "Q8_0"), read from its header.
pub fn file_quantization(path: &Path) -> Result<String, LoadError> {
    let unreadable = |e: &dyn std::fmt::Display| LoadError::Corrupt(path.to_owned(), e.to_string());
    let mut reader = BufReader::new(File::open(path).map_err(|e| unreadable(&e))?);
    let content = gguf_file::Content::read(&mut reader).map_err(|e| unreadable(&e))?;
    let dtype = crate::model::matrix_type(&content).ok_or_else(|| unreadable(&"no weight matrices"))?;
    Ok(format!("{dtype:?}"))
}

fn load_file(path: &Path) -> Result<(Model, ChatTokenizer), LoadError> {
    let corrupt = |e: candle_core::Error| LoadError::Corrupt(path.to_owned(), e.to_string());
    let mut reader =
        BufReader::new(File::open(path).map_err(|e| LoadError::Corrupt(path.to_owned(), e.to_string()))?);
    let content = gguf_file::Content::read(&mut reader).map_err(corrupt)?;
    let tokenizer = ChatTokenizer::from_gguf(&content)?;
    let weights = Model::from_gguf(&content, &mut reader).map_err(corrupt)?;
    Ok((weights, tokenizer))
}

fn convert(source: &Path, cache: &Path) -> Result<(), LoadError> {
    tracing::info!(model = %source.display(), "converting Q4_1 weights to Q8_0 (once)");
    let corrupt = |e: candle_core::Error| LoadError::Corrupt(source.to_owned(), e.to_string());
    let mut reader =
        BufReader::new(File::open(source).map_err(|e| LoadError::Corrupt(source.to_owned(), e.to_string()))?);
    let content = gguf_file::Content::read(&mut reader).map_err(corrupt)?;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let tensors = names
        .into_iter()
        .map(|name| {
            let tensor = content.tensor(&mut reader, name, &Device::Cpu)?;
            let tensor = match tensor.dtype() {
                GgmlDType::Q4_1 => QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?,
                _ => tensor,
            };
            Ok((name.as_str(), tensor))
        })
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(corrupt)?;

    // Write beside the target and rename, so an interrupted conversion never leaves a half
    // file; the name is unique, so two processes converting at once cannot interleave writes.
    static CONVERSIONS: AtomicU64 = AtomicU64::new(0);
    let unique = CONVERSIONS.fetch_add(1, Ordering::Relaxed);
    let partial = cache.with_extension(format!("partial-{}-{unique}", std::process::id()));
    let write = || -> Result<(), Box<dyn std::error::Error>> {
        let mut out = BufWriter::new(File::create(&partial)?);
        let metadata: Vec<(&str, &gguf_file::Value)> =
            content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
        gguf_file::write(&mut out, &metadata, &tensors)?;
        out.into_inner()?.sync_all()?;
        std::fs::rename(&partial, cache)?;
        Ok(())
    };
    write().map_err(|e| LoadError::Cache(cache.to_owned(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_q4_1_file_runs_as_q8_0() -> Result<(), LoadError> {
        let path = crate::tests::model_path();
        assert_eq!(file_quantization(&path)?, "Q4_1");
        let (model, _) = load(&path)?;
        assert_eq!(model.quantization(), GgmlDType::Q8_0);
        assert_eq!(file_quantization(&cache_path(&path))?, "Q8_0");
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_gguf_is_named_as_corrupt() {
        let path = std::env::temp_dir().join(format!("not-a-model-{}.gguf", std::process::id()));
        std::fs::write(&path, b"not a gguf").expect("a temporary file");
        let result = file_quantization(&path);
        std::fs::remove_file(&path).ok();
        assert!(matches!(result, Err(LoadError::Corrupt(p, _)) if p == path));
    }
}
