//! The REST surface: routing, authentication and the pieces every handler uses.

mod files;
mod form_body;
mod generated;
mod models;
mod payload;
mod transcriptions;

use std::sync::Arc;

use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use soniox_types::{ListParams, Secret, validation::limits};
use subtle::ConstantTimeEq as _;

use self::generated::operations::{NoOperation, Operation};
use crate::{
    request_body::RequestBody,
    respond::{Failure, Reply},
    shared::Shared,
};

/// Largest JSON request body accepted; the biggest legal payload is far smaller.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// Routes a `/v1/...` request (`rest` is the path after `/v1/`).
pub(crate) async fn route(
    shared: &Arc<Shared>,
    request: Request<RequestBody>,
    rest: &str,
) -> Result<Reply, Failure> {
    authenticate(&shared.config.api_keys, request.headers())?;
    let segments = segments(rest);
    let method = request.method().clone();
    // The operations and their paths are generated from the spec; a new one fails to compile
    // here until the emulator decides what to do with it.
    let operation = Operation::find(&method, &segments).map_err(|missing| {
        Failure::no_route(match missing {
            NoOperation::NotFound => StatusCode::NOT_FOUND,
            NoOperation::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        })
    })?;
    match operation {
        Operation::GetFiles => files::list(shared, &request),
        Operation::UploadFile => files::upload(shared, request).await,
        Operation::GetFilesCount => Ok(files::count(shared)),
        Operation::GetFile { file_id } => files::get(shared, file_id),
        Operation::DeleteFile { file_id } => files::delete(shared, file_id).await,
        Operation::GetTranscriptions => transcriptions::list(shared, &request),
        Operation::CreateTranscription => transcriptions::create(shared, request).await,
        Operation::GetTranscriptionsCount => Ok(transcriptions::count(shared)),
        Operation::GetTranscription { transcription_id } => {
            transcriptions::get(shared, transcription_id)
        }
        Operation::DeleteTranscription { transcription_id } => {
            transcriptions::delete(shared, transcription_id)
        }
        Operation::GetTranscriptionTranscript { transcription_id } => {
            transcriptions::transcript(shared, transcription_id)
        }
        Operation::GetModels => Ok(models::list()),
        Operation::CreateTemporaryApiKey => models::temporary_api_key(request).await,
        // Text-to-speech is out of the emulator's scope.
        Operation::GetTtsModels => Err(Failure::no_route(StatusCode::NOT_FOUND)),
    }
}

/// Whether `method` on `path` (the whole path) names an operation of the API.
pub(crate) fn names_operation(method: &http::Method, path: &str) -> bool {
    path.strip_prefix("/v1/")
        .is_some_and(|rest| Operation::find(method, &segments(rest)).is_ok())
}

/// The segments of a path after `/v1/`, trailing slashes ignored.
fn segments(rest: &str) -> Vec<&str> {
    rest.trim_end_matches('/').split('/').collect()
}

/// Checks `Authorization: Bearer <key>`. Temporary (`temp:`) keys are for the real-time APIs and
/// are refused here. With no keys configured, any other non-empty key is accepted.
fn authenticate(keys: &[Secret], headers: &HeaderMap) -> Result<(), Failure> {
    let presented = bearer_key(headers).ok_or_else(Failure::unauthenticated)?;
    if keys.is_empty() || is_one_of(keys.iter(), presented) {
        Ok(())
    } else {
        Err(Failure::unauthenticated())
    }
}

/// The non-empty, non-temporary key of an `Authorization: Bearer` header.
pub(crate) fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, key) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        })
        .filter(|key| !key.is_empty() && !key.starts_with("temp:"))
}

/// Whether `presented` is one of `secrets`, compared in constant time.
pub(crate) fn is_one_of<'a>(secrets: impl Iterator<Item = &'a Secret>, presented: &str) -> bool {
    secrets.fold(false, |found, secret| {
        // `subtle` hides where the strings differ; only lengths can leak.
        found
            | bool::from(
                secret
                    .expose_secret()
                    .as_bytes()
                    .ct_eq(presented.as_bytes()),
            )
    })
}

/// Reads `limit` and `cursor` from the query string, validated as the API does.
fn list_params(request: &Request<RequestBody>) -> Result<(usize, Option<String>), Failure> {
    let mut params = ListParams::new();
    for (name, value) in url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
    {
        match &*name {
            "limit" => {
                let limit = value.parse::<u32>().map_err(|_| {
                    Failure::invalid(
                        "int_parsing",
                        "query.limit",
                        "Input should be a valid integer, unable to parse string as an integer",
                    )
                })?;
                params = params.limit(limit);
            }
            "cursor" => params = params.cursor(value.into_owned()),
            _ => {}
        }
    }
    params
        .validate()
        .map_err(|errors| Failure::validation(errors.to_details()))?;
    let limit = params.limit.unwrap_or(*limits::LIST_LIMIT_RANGE.end());
    Ok((limit as usize, params.cursor))
}

/// Reads a JSON body of at most `limit` bytes; anything that is not JSON is a located 400.
pub(crate) async fn read_json(
    request: Request<RequestBody>,
    limit: usize,
) -> Result<serde_json::Value, Failure> {
    let bytes = Limited::new(request.into_body(), limit)
        .collect()
        .await
        .map_err(|_| {
            Failure::invalid(
                "json_invalid",
                "body",
                "Request body is too large or unreadable.",
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|error| {
        Failure::invalid(
            "json_invalid",
            "body",
            &format!("JSON decode error: {error}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(keys: &[&str], authorization: Option<&str>, expect_ok: bool) {
        let keys: Vec<Secret> = keys.iter().map(|key| Secret::new(*key)).collect();
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        }
        let result = authenticate(&keys, &headers);
        assert_eq!(result.is_ok(), expect_ok, "{authorization:?}");
        if let Err(failure) = result {
            assert_eq!(failure.status(), StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn operations_are_found_by_method_and_path() {
        use http::Method;
        fn find(method: &Method, path: &'static str) -> Result<Operation<'static>, NoOperation> {
            let segments: Vec<&str> = path.split('/').collect();
            Operation::find(method, &segments)
        }
        assert_eq!(
            find(&Method::GET, "files/count"),
            Ok(Operation::GetFilesCount)
        );
        assert_eq!(
            find(&Method::GET, "files/abc"),
            Ok(Operation::GetFile { file_id: "abc" })
        );
        assert_eq!(
            find(&Method::GET, "transcriptions/t1/transcript"),
            Ok(Operation::GetTranscriptionTranscript {
                transcription_id: "t1"
            })
        );
        assert_eq!(
            find(&Method::POST, "auth/temporary-api-key"),
            Ok(Operation::CreateTemporaryApiKey)
        );
        assert_eq!(
            find(&Method::PUT, "files/abc"),
            Err(NoOperation::MethodNotAllowed)
        );
        assert_eq!(
            find(&Method::POST, "files/count"),
            Err(NoOperation::MethodNotAllowed)
        );
        assert_eq!(find(&Method::GET, "files/a/b"), Err(NoOperation::NotFound));
        assert_eq!(find(&Method::GET, "nothing"), Err(NoOperation::NotFound));
    }

    #[test]
    fn bearer_keys() {
        check(&["k1", "k2"], Some("Bearer k2"), true);
        check(&["k1"], Some("bearer k1"), true);
        check(&["k1"], Some("Bearer k11"), false);
        check(&["k1"], Some("Basic k1"), false);
        check(&["k1"], None, false);
        check(&[], Some("Bearer anything"), true);
        check(&[], Some("Bearer "), false);
        check(&[], Some("Bearer temp:ABC"), false);
        check(&["temp:ABC"], Some("Bearer temp:ABC"), false);
    }
}
