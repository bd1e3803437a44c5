//! `lacuna serve` over real sockets: the token guards every command, event stream and image;
//! commands answer as the command table does, with HTTP statuses from the error codes; media
//! only for catalog ids; events arrive as server-sent events; the UI's files and its routes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use lacuna_api::SystemClock;
use lacuna_app::App;
use lacuna_server::{ServeOptions, Server};
use serde_json::{Value, json};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample");
const TOKEN: &str = "test-token-0123456789";

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else { return out };
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..end]).expect("size").trim(), 16).expect("hex");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: Option<&Value>) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("headers end");
    let headers = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status: u16 = headers.split_whitespace().nth(1).expect("status").parse().expect("status code");
    let rest = &raw[split + 4..];
    let body = if headers.contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_vec() };
    Reply { status, headers, body }
}

fn call(addr: SocketAddr, command: &str, args: Value) -> (u16, Value) {
    let reply = request(addr, "POST", &format!("/api/{command}"), Some(TOKEN), Some(&args));
    (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
}

fn serve_sample(ui: Option<std::path::PathBuf>) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::new("ana", Arc::new(SystemClock), None);
    app.call("project_create", json!({ "path": dir.path().join("p") })).expect("create");
    let events = app.subscribe();
    app.call("import_start", json!({ "paths": [SAMPLE] })).expect("import");
    loop {
        let e = events.recv_timeout(Duration::from_secs(120)).expect("import events");
        if e.event == "job_finished" {
            break;
        }
    }
    let server = lacuna_server::start(
        Arc::new(app),
        &ServeOptions { port: 0, ui_dir: ui, token: Some(TOKEN.to_string()) },
    )
    .expect("serve");
    (dir, server)
}

#[test]
fn commands_media_and_events_need_the_token_and_answer_like_the_command_table() {
    let (_dir, server) = serve_sample(None);
    let addr = server.addr;
    assert!(server.url().ends_with(&format!("#token={TOKEN}")));

    assert_eq!(request(addr, "POST", "/api/status", None, Some(&json!({}))).status, 401);
    assert_eq!(request(addr, "POST", "/api/status", Some("wrong-token-0123456789"), None).status, 401);
    let (status, answer) = call(addr, "status", json!({}));
    assert_eq!(status, 200);
    assert!(answer["images_ok"].as_u64().expect("count") > 0, "{answer}");
    let (status, err) = call(addr, "nope", json!({}));
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_input")));
    assert!(err["message"].as_str().expect("message").contains("nope"));
    let (status, err) = call(addr, "image", json!({ "id": 999_999 }));
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")), "{err}");

    let (_, page) = call(addr, "images", json!({ "query": { "limit": 1 } }));
    let id = page["items"][0]["id"].as_i64().expect("an image");
    let (_, details) = call(addr, "image", json!({ "id": id }));
    let thumb = request(addr, "GET", &format!("/media/thumb/{id}?token={TOKEN}"), None, None);
    assert_eq!(thumb.status, 200);
    assert!(thumb.headers.contains("content-type: image/jpeg"));
    assert_eq!(&thumb.body[..2], &[0xFF, 0xD8], "a JPEG");
    let original = request(addr, "GET", &format!("/media/image/{id}?token={TOKEN}"), None, None);
    assert_eq!(original.status, 200);
    let file = std::fs::read(details["abs_path"].as_str().expect("path")).expect("original");
    assert_eq!(original.body, file, "the original, byte for byte");
    assert_eq!(request(addr, "GET", &format!("/media/image/{id}"), None, None).status, 401);
    assert_eq!(request(addr, "GET", &format!("/media/image/999999?token={TOKEN}"), None, None).status, 404);
    assert_eq!(
        request(addr, "GET", &format!("/media/image/..%2F..%2Fetc%2Fpasswd?token={TOKEN}"), None, None)
            .status,
        400
    );

    // Events: a labels_changed arrives on the stream after a drawing.
    let mut sse = TcpStream::connect(addr).expect("connect");
    sse.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        sse,
        "GET /api/events?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("subscribe");
    let mut lines = BufReader::new(sse);
    let mut line = String::new();
    lines.read_line(&mut line).expect("status line");
    assert!(line.contains("200"), "{line}");
    std::thread::sleep(Duration::from_millis(200));
    call(addr, "class_create", json!({ "name": "car" }));
    let (status, _) = call(
        addr,
        "annotations_add",
        json!({ "inputs": [{ "image": id, "class": "car", "geometry": { "kind": "box", "x0": 1, "y0": 1, "x1": 9, "y1": 9 } }] }),
    );
    assert_eq!(status, 200);
    let mut seen = false;
    for _ in 0..200 {
        line.clear();
        if lines.read_line(&mut line).expect("event line") == 0 {
            break;
        }
        if line.contains("labels_changed") && line.contains(&id.to_string()) {
            seen = true;
            break;
        }
    }
    assert!(seen, "labels_changed event on the stream");
    server.stop().expect("stop");
}

#[test]
fn serves_the_ui_and_its_routes_without_the_token() {
    let ui = tempfile::tempdir().expect("ui dir");
    std::fs::write(ui.path().join("index.html"), "<!doctype html><title>Lacuna</title>").expect("index");
    std::fs::create_dir(ui.path().join("assets")).expect("assets");
    std::fs::write(ui.path().join("assets/app.js"), "console.log(1)").expect("js");
    let (_dir, server) = serve_sample(Some(ui.path().to_path_buf()));
    let index = request(server.addr, "GET", "/", None, None);
    assert_eq!(index.status, 200);
    assert!(String::from_utf8_lossy(&index.body).contains("<title>Lacuna</title>"));
    assert_eq!(request(server.addr, "GET", "/assets/app.js", None, None).body, b"console.log(1)");
    let route = request(server.addr, "GET", "/catalog", None, None);
    assert_eq!((route.status, route.body), (200, index.body));
    server.stop().expect("stop");
}
