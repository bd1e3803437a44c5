//! Lacuna's desktop app: a Tauri 2 window around the web UI (`ui/dist`). It only transports;
//! everything the app does is in `lacuna-app`:
//!
//! - one command, `call(command, args)`, runs [`App::call`] on a blocking thread;
//! - every [`lacuna_app::Event`] is emitted to the webview as the Tauri event
//!   `lacuna://{event}` (`lacuna://job_progress`, `lacuna://labels_changed`, ...) with the
//!   event's payload;
//! - the `lacuna` URL scheme serves catalog images and thumbnails by id (`media`);
//! - native folder pickers come from `tauri-plugin-dialog`, called by the UI's JS API.
//!
//! Started as `lacuna-desktop [PROJECT_DIR]` (or `LACUNA_PROJECT`); see `settings`.

// No console window next to the app in Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod media;
mod settings;

use std::sync::Arc;

use anyhow::Context as _;
use lacuna_api::{ApiError, ErrorCode, SystemClock};
use lacuna_app::App;
use serde_json::Value;
use tauri::{AppHandle, Emitter as _, State};

use crate::settings::Settings;

/// Tauri event names are `lacuna://` and the app's event name.
const EVENT_PREFIX: &str = "lacuna://";

/// Runs one `lacuna-app` command off the UI thread; rejects with the `{code, message}` error.
#[tauri::command]
async fn call(app: State<'_, Arc<App>>, command: String, args: Option<Value>) -> Result<Value, ApiError> {
    let app = Arc::clone(&app);
    let name = command.clone();
    tauri::async_runtime::spawn_blocking(move || app.call(&command, args.unwrap_or(Value::Null)))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("command {name} failed: {e}")))?
}

/// Forwards every app event to the webview until the app goes away.
fn forward_events(app: &App, handle: AppHandle) -> anyhow::Result<()> {
    let events = app.subscribe();
    std::thread::Builder::new()
        .name("lacuna-events".into())
        .spawn(move || {
            for event in events {
                let name = format!("{EVENT_PREFIX}{}", event.event);
                if let Err(err) = handle.emit(&name, event.payload) {
                    eprintln!("lacuna-desktop: could not emit {name}: {err}");
                }
            }
        })
        .context("starting the event thread")?;
    Ok(())
}

fn open_app(settings: &Settings) -> App {
    let clock = Arc::new(SystemClock);
    let author = settings.author.as_str();
    let config_dir = settings.config_dir.clone();
    match &settings.project_dir {
        Some(dir) => {
            App::with_project(author, clock.clone(), config_dir.clone(), dir).unwrap_or_else(|err| {
                // Start anyway: the UI says no project is open and offers to open one.
                eprintln!("lacuna-desktop: cannot open the project in {}: {err}", dir.display());
                App::new(author, clock, config_dir)
            })
        }
        None => App::new(author, clock, config_dir),
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::from(std::env::args().skip(1), |name| std::env::var(name).ok());
    let app = Arc::new(open_app(&settings));
    let media_app = Arc::clone(&app);

    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(Arc::clone(&app))
        .invoke_handler(tauri::generate_handler![call])
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, move |_ctx, request, responder| {
            let app = Arc::clone(&media_app);
            // Reading a large original or making a thumbnail must not hold up the UI thread.
            tauri::async_runtime::spawn_blocking(move || responder.respond(media::respond(&app, &request)));
        })
        .setup(move |tauri_app| {
            forward_events(&app, tauri_app.handle().clone())?;
            Ok(())
        })
        .run(tauri::generate_context!())
        .context("running the Lacuna window")
}
