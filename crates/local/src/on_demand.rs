//! The embedded model offered beside Bedrock models: listed at once, loaded on its first
//! request, so a Bedrock deployment that keeps the file pays nothing until someone picks it.

use tokio::sync::OnceCell;

use streambed_core::{BoxFuture, ChatModel, ChatRequest, ChatStream, ErrorKind, ModelInfo, ProviderError};

use crate::{LocalConfig, LocalModel};

/// [`LocalModel`], loaded by the first request that needs it.
#[derive(Debug)]
pub struct OnDemandLocalModel {
    config: LocalConfig,
    info: ModelInfo,
    model: OnceCell<LocalModel>,
}

impl OnDemandLocalModel {
    pub fn new(config: LocalConfig) -> Self {
        let info = LocalModel::info(config.context_tokens.min(crate::MAX_CONTEXT_TOKENS));
        Self { config, info, model: OnceCell::new() }
    }

    /// The loaded model; a failed load is not kept, so the next request tries again.
    async fn model(&self) -> Result<&LocalModel, ProviderError> {
        self.model
            .get_or_try_init(|| async {
                let config = self.config.clone();
                tokio::task::spawn_blocking(move || LocalModel::load(&config))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|loaded| loaded.map_err(|e| e.to_string()))
                    .map_err(|e| {
                        ProviderError::new(
                            ErrorKind::Upstream,
                            format!("The embedded model could not load: {e}"),
                        )
                    })
            })
            .await
    }
}

impl ChatModel for OnDemandLocalModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ProviderError>> {
        Box::pin(async move { self.model().await?.stream(request).await })
    }

    fn count_tokens(&self, request: ChatRequest) -> BoxFuture<'_, Result<u32, ProviderError>> {
        Box::pin(async move { self.model().await?.count_tokens(request).await })
    }
}
