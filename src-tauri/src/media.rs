//! The `lacuna` URL scheme: `image/{id}` answers the original file of a catalog image,
//! `thumb/{id}` its JPEG thumbnail. Only ids the open catalog knows are served ([`App::image_file`],
//! [`App::thumbnail`]); nothing the client sends is ever used as a path.
//!
//! The UI makes its URLs with `convertFileSrc('image/42', 'lacuna')`: `lacuna://localhost/image%2F42`
//! on Linux and macOS, `http://lacuna.localhost/image%2F42` on Windows, so the path is
//! percent-decoded before it is matched.

use std::path::Path;

use lacuna_api::{ApiError, ErrorCode};
use lacuna_app::App;
use tauri::http::{Method, Request, Response, StatusCode, header};

/// The scheme's name, as the UI's `MEDIA_PROTOCOL` (`ui/src/lib/api/tauri.ts`) spells it.
pub(crate) const SCHEME: &str = "lacuna";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    /// The original file of an image.
    Image(i64),
    /// The JPEG thumbnail of an image.
    Thumb(i64),
}

impl Media {
    /// Reads `image/{id}` or `thumb/{id}` from a URL path (`/image%2F42` or `/image/42`).
    pub(crate) fn from_path(path: &str) -> Option<Self> {
        let path = percent_decode(path)?;
        let (kind, id) = path.trim_start_matches('/').split_once('/')?;
        // Digits only: no sign, no whitespace, no second segment.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = id.parse().ok()?;
        match kind {
            "image" => Some(Self::Image(id)),
            "thumb" => Some(Self::Thumb(id)),
            _ => None,
        }
    }
}

/// Answers one request of the scheme. Blocking (reads files, may make a thumbnail): call it
/// off the UI thread.
pub(crate) fn respond(app: &App, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
    }
    let Some(media) = Media::from_path(request.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "not found: expected image/{id} or thumb/{id}");
    };
    let answer = match media {
        Media::Image(id) => app.image_file(id).and_then(|path| read_original(id, &path)),
        Media::Thumb(id) => app.thumbnail(id).map(|jpeg| ("image/jpeg", jpeg)),
    };
    match answer {
        Ok((content_type, bytes)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, content_type)
            // The same id names another image once another project is opened: revalidate.
            .header(header::CACHE_CONTROL, "no-cache")
            // Lets the UI draw originals on a canvas and still read its pixels back
            // (`crossOrigin = 'anonymous'`); only this webview can reach the scheme.
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(bytes)
            .unwrap_or_else(|e| text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        Err(err) => text(status_of(&err), &err.message),
    }
}

/// The original's bytes and media type. Read in one allocation of the file's size: Tauri's
/// protocol API takes the whole body (webkit2gtk copies it once more into its own buffer), so
/// this is the one copy we make of a 50-megapixel original.
fn read_original(id: i64, path: &Path) -> Result<(&'static str, Vec<u8>), ApiError> {
    let bytes = std::fs::read(path).map_err(|e| {
        let code =
            if e.kind() == std::io::ErrorKind::NotFound { ErrorCode::PathNotFound } else { ErrorCode::Io };
        ApiError::new(code, format!("image {id}: {}: {e}", path.display()))
    })?;
    Ok((content_type(path), bytes))
}

fn status_of(err: &ApiError) -> StatusCode {
    StatusCode::from_u16(lacuna_app::http_status(err.code)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn content_type(path: &Path) -> &'static str {
    lacuna_app::media_type(path)
}

fn text(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(message.as_bytes().to_vec());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// `%XX` escapes decoded; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lacuna_api::FixedClock;
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_from_convert_file_src_are_decoded() {
        assert_eq!(Media::from_path("/image%2F42"), Some(Media::Image(42)));
        assert_eq!(Media::from_path("/thumb%2f7"), Some(Media::Thumb(7)));
        assert_eq!(Media::from_path("/image/42"), Some(Media::Image(42)));
    }

    #[test]
    fn anything_but_a_kind_and_a_plain_id_is_refused() {
        for path in [
            "/",
            "/image",
            "/image%2F",
            "/image%2F-1",
            "/image%2F+1",
            "/image%2F1%2F2",
            "/image%2F..%2Fetc",
            "/file%2F1",
            "/image%2F99999999999999999999",
            "/image%2",
            "/image%zz1",
            "/%2Fetc%2Fpasswd",
        ] {
            assert_eq!(Media::from_path(path), None, "{path}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type(Path::new("a/B.JPG")), "image/jpeg");
        assert_eq!(content_type(Path::new("a/b.png")), "image/png");
        assert_eq!(content_type(Path::new("a/b.tif")), "image/tiff");
        assert_eq!(content_type(Path::new("a/b")), "application/octet-stream");
    }

    fn get(uri: &str) -> Request<Vec<u8>> {
        Request::builder().uri(uri).body(Vec::new()).expect("request")
    }

    #[test]
    fn without_an_open_project_every_id_is_not_found() {
        let app = App::new("test", Arc::new(FixedClock(0)), None);
        let response = respond(&app, &get("lacuna://localhost/thumb%2F1"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = respond(&app, &get("lacuna://localhost/nothing"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(!response.body().is_empty());
        let post = Request::builder().method("POST").uri("lacuna://localhost/thumb%2F1").body(Vec::new());
        let response = respond(&app, &post.expect("request"));
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    /// Imports the bundled sample into a fresh project and waits for the import to finish.
    fn app_with_sample() -> (tempfile::TempDir, App) {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sample");
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::new("test", Arc::new(FixedClock(0)), None);
        let events = app.subscribe();
        app.call("project_create", json!({ "path": dir.path().join("p") })).expect("create");
        app.call("import_start", json!({ "paths": [sample] })).expect("import");
        loop {
            let event =
                events.recv_timeout(Duration::from_secs(120)).expect("job_finished before the timeout");
            if event.event == "job_finished" {
                assert_eq!(event.payload["ok"], true, "{:?}", event.payload);
                return (dir, app);
            }
        }
    }

    #[test]
    fn catalog_images_are_served_and_unknown_ids_are_not() {
        let (_dir, app) = app_with_sample();
        let page = app.call("images", json!({ "query": { "limit": 1 } })).expect("images");
        let id = page["items"][0]["id"].as_i64().expect("an image");

        let original = respond(&app, &get(&format!("lacuna://localhost/image%2F{id}")));
        assert_eq!(original.status(), StatusCode::OK, "{}", String::from_utf8_lossy(original.body()));
        let file = app.image_file(id).expect("file");
        assert_eq!(original.headers()[header::CONTENT_TYPE], content_type(&file));
        assert_eq!(original.body(), &std::fs::read(&file).expect("original"));

        let thumb = respond(&app, &get(&format!("http://lacuna.localhost/thumb%2F{id}")));
        assert_eq!(thumb.status(), StatusCode::OK);
        assert_eq!(thumb.headers()[header::CONTENT_TYPE], "image/jpeg");
        assert!(thumb.body().starts_with(&[0xFF, 0xD8]), "a JPEG");

        let unknown = respond(&app, &get(&format!("lacuna://localhost/image%2F{}", id + 100_000)));
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert_eq!(unknown.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}
