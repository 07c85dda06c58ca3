//! `GET /v1/models` and `GET /v1/models/{id}` as Anthropic's SDK reads them
//! (`client.models.list()`, `client.models.retrieve()`): the route is shared with OpenAI's list,
//! and [`crate::routes`] picks this shape by the `anthropic-version` header every Anthropic
//! client sends.

use axum::{Json, extract::Query, http::Uri};
use serde::{Deserialize, Serialize};
use streambed_core::ChatModel;

use super::error::ApiError;
use crate::{error::AppError, state::AppState};

/// `GET /v1/models`: a page of the models, in the server's order, `limit` at a time (20 unless
/// asked), after `after_id` or before `before_id`, which is how the SDK's auto-pagination walks
/// on while `has_more`.
pub(in crate::routes) fn models(state: &AppState, uri: &Uri) -> Result<Json<ModelPage>, AppError> {
    let Query(query) = Query::<ModelPageQuery>::try_from_uri(uri).map_err(|rejection| {
        AppError::BadRequest(format!("The query is not valid: {}", rejection.body_text()))
    })?;
    let models: Vec<&dyn ChatModel> = state.models.iter().map(AsRef::as_ref).collect();
    let ids: Vec<&str> = models.iter().map(|model| model.info().id.as_str()).collect();
    let (range, has_more) = query.page(&ids).map_err(AppError::BadRequest)?;
    let data: Vec<ModelInfo> = models[range].iter().map(|&model| model_info(model)).collect();
    let first_id = data.first().map(|m| m.id.clone());
    let last_id = data.last().map(|m| m.id.clone());
    Ok(Json(ModelPage { data, has_more, first_id, last_id }))
}

/// `GET /v1/models/{id}`: one of them, or 404 `not_found_error`.
pub(in crate::routes) fn model(state: &AppState, id: &str) -> Result<Json<ModelInfo>, ApiError> {
    let model = state.models.pick(Some(id)).map_err(ApiError::UnknownModel)?;
    Ok(Json(model_info(model.as_ref())))
}

fn model_info(model: &dyn ChatModel) -> ModelInfo {
    let info = model.info();
    ModelInfo {
        kind: "model",
        id: info.id.clone(),
        display_name: info.name.clone(),
        created_at: "1970-01-01T00:00:00Z",
    }
}

/// `GET /v1/models`'s query: at most `limit` models (1 to 1,000, 20 unless given), those after
/// `after_id` or those before `before_id` (not both).
#[derive(Debug, Deserialize)]
struct ModelPageQuery {
    limit: Option<u32>,
    after_id: Option<String>,
    before_id: Option<String>,
}

impl ModelPageQuery {
    const DEFAULT_LIMIT: usize = 20;
    const MAX_LIMIT: u32 = 1000;

    /// Which of `ids` (the models in the server's order) the page holds, and whether more lie
    /// beyond it in the direction asked (before it, with `before_id`); or why the query names
    /// no page.
    fn page(&self, ids: &[&str]) -> Result<(std::ops::Range<usize>, bool), String> {
        let limit = match self.limit {
            None => Self::DEFAULT_LIMIT,
            Some(limit @ 1..=Self::MAX_LIMIT) => limit as usize,
            Some(_) => return Err(format!("limit: must be from 1 to {}.", Self::MAX_LIMIT)),
        };
        let position = |name: &str, id: &str| {
            ids.iter()
                .position(|model| *model == id)
                .ok_or_else(|| format!("{name}: no model `{id}` on this server."))
        };
        let after = |start: usize| {
            let end = (start + limit).min(ids.len());
            (start..end, end < ids.len())
        };
        match (&self.after_id, &self.before_id) {
            (Some(_), Some(_)) => Err("Give after_id or before_id, not both.".to_owned()),
            (Some(id), None) => Ok(after(position("after_id", id)? + 1)),
            (None, Some(id)) => {
                let end = position("before_id", id)?;
                let start = end.saturating_sub(limit);
                Ok((start..end, start > 0))
            }
            (None, None) => Ok(after(0)),
        }
    }
}

/// `GET /v1/models` as Anthropic's SDK reads it: one page of models.
#[derive(Debug, Serialize)]
pub(in crate::routes) struct ModelPage {
    pub data: Vec<ModelInfo>,
    pub has_more: bool,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub(in crate::routes) struct ModelInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub display_name: String,
    /// RFC 3339; the epoch, since neither Bedrock nor the embedded model says when a model was
    /// released.
    pub created_at: &'static str,
}

#[cfg(test)]
mod tests {
    use super::ModelPageQuery;

    const IDS: [&str; 5] = ["a", "b", "c", "d", "e"];

    fn page(
        limit: Option<u32>,
        after_id: Option<&str>,
        before_id: Option<&str>,
    ) -> Result<Vec<&'static str>, String> {
        paged(limit, after_id, before_id).map(|(ids, _)| ids)
    }

    fn paged(
        limit: Option<u32>,
        after_id: Option<&str>,
        before_id: Option<&str>,
    ) -> Result<(Vec<&'static str>, bool), String> {
        let query = ModelPageQuery {
            limit,
            after_id: after_id.map(Into::into),
            before_id: before_id.map(Into::into),
        };
        query.page(&IDS).map(|(range, more)| (IDS[range].to_vec(), more))
    }

    #[test]
    fn a_page_says_whether_more_lie_beyond_it_in_its_direction() {
        assert_eq!(paged(Some(2), None, None).unwrap(), (vec!["a", "b"], true));
        assert_eq!(paged(Some(5), None, None).unwrap(), (IDS.to_vec(), false));
        assert_eq!(paged(Some(2), Some("c"), None).unwrap(), (vec!["d", "e"], false));
        assert_eq!(paged(Some(2), None, Some("d")).unwrap(), (vec!["b", "c"], true));
        assert_eq!(paged(Some(2), None, Some("c")).unwrap(), (vec!["a", "b"], false));
        assert_eq!(paged(Some(2), None, Some("a")).unwrap(), (vec![], false));
    }

    #[test]
    fn a_page_is_limit_models_from_the_start_after_after_id_or_before_before_id() {
        assert_eq!(page(None, None, None).unwrap(), IDS);
        assert_eq!(page(Some(2), None, None).unwrap(), ["a", "b"]);
        assert_eq!(page(Some(2), Some("b"), None).unwrap(), ["c", "d"]);
        assert_eq!(page(Some(2), Some("d"), None).unwrap(), ["e"]);
        assert!(page(Some(2), Some("e"), None).unwrap().is_empty());
        assert_eq!(page(Some(2), None, Some("d")).unwrap(), ["b", "c"]);
        assert_eq!(page(Some(2), None, Some("b")).unwrap(), ["a"]);
        assert!(page(Some(2), None, Some("a")).unwrap().is_empty());
    }

    #[test]
    fn a_query_that_names_no_page_says_why() {
        assert_eq!(page(Some(0), None, None).unwrap_err(), "limit: must be from 1 to 1000.");
        assert_eq!(page(Some(1001), None, None).unwrap_err(), "limit: must be from 1 to 1000.");
        assert_eq!(page(None, Some("z"), None).unwrap_err(), "after_id: no model `z` on this server.");
        assert_eq!(page(None, None, Some("z")).unwrap_err(), "before_id: no model `z` on this server.");
        assert_eq!(page(None, Some("a"), Some("c")).unwrap_err(), "Give after_id or before_id, not both.");
    }
}
