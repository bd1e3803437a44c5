//! `lacuna`: the headless command line over the API crate. Every subcommand is a thin call into
//! `lacuna_api`; what is printed is the only thing decided here.
//!
//! Exit codes: 0 done; 1 failed; 2 bad usage; 3 finished, but some files had problems (see
//! `lacuna problems`); 130 cancelled (Ctrl-C) — a re-run resumes.

mod labels;
mod output;
mod select;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use lacuna_api::{
    ApiError, ImageQuery, ImportOptions, ImportRequest, ImportStatus, PrelabelRequest, PrelabelStatus,
    Project, SystemClock,
};

/// Exit code when an import finished but some files could not be taken.
pub(crate) const EXIT_PROBLEMS: u8 = 3;
/// Exit code when the user cancelled (as a shell reports SIGINT).
pub(crate) const EXIT_CANCELLED: u8 = 130;

#[derive(Debug, Parser)]
#[command(name = "lacuna", version, about = "Turn image folders into labeled, versioned training data.")]
struct Cli {
    /// The project directory (holds catalog.sqlite and the thumbnail cache).
    #[arg(short, long, global = true, env = "LACUNA_PROJECT", default_value = ".")]
    project: PathBuf,
    /// Who is working: recorded on every edit, and whose edits undo and redo act on.
    /// Default: $LACUNA_USER, else $USER.
    #[arg(long, global = true, env = "LACUNA_USER")]
    author: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a project (the directory is made if needed).
    Init {
        /// Where to create it; defaults to --project.
        dir: Option<PathBuf>,
    },
    /// Import folders (recursively) and single image files. Re-running is incremental.
    Import(ImportArgs),
    /// Totals, folders, cameras and the last import.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List images, filtered, a page at a time.
    Images(ImagesArgs),
    /// Everything about one image.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Pre-label images with a detector (resumable: a rerun continues the same run).
    Prelabel(PrelabelArgs),
    /// Stored predictions of the newest run (or --run R).
    Predictions {
        #[arg(long)]
        run: Option<i64>,
        /// Lowest score shown (default: the run's display threshold).
        #[arg(long)]
        min_score: Option<f32>,
        /// Include the boxes of the mirrored pass (flip TTA).
        #[arg(long)]
        flipped: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pre-labeling runs, newest first.
    Runs {
        #[arg(long)]
        json: bool,
    },
    /// Classes, annotations, review, image states, undo/redo, label import.
    #[command(subcommand)]
    Labels(labels::LabelsCommand),
    /// Freeze, list and diff dataset versions.
    #[command(subcommand)]
    Version(labels::VersionCommand),
    /// Write a version as COCO, YOLO, VOC or PNG masks, with a manifest.
    Export(labels::ExportArgs),
    /// Conditions per image (camera, time of day, light, weather, your own keys).
    #[command(subcommand)]
    Conditions(select::ConditionsCommand),
    /// Per condition value: share of the pool, of the labeled set and of the target; the gap.
    Coverage {
        /// Only this key.
        #[arg(long)]
        key: Option<String>,
        /// Set a target share first: KEY VALUE SHARE (0.2 or 20%), or KEY VALUE clear.
        #[arg(long, num_args = 3, value_names = ["KEY", "VALUE", "SHARE"])]
        target: Option<Vec<String>>,
        #[arg(long)]
        json: bool,
    },
    /// What to label next, ranked, with reasons.
    Queue {
        /// e.g. uncertainty=2,coverage=1,diversity=1
        #[arg(long)]
        weights: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Hand the picks to this person (nobody else gets them).
        #[arg(long)]
        assign: Option<String>,
        /// Give back every image held by --assign NAME.
        #[arg(long)]
        release: bool,
        /// Use this run's predictions (default: the newest).
        #[arg(long)]
        run: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Predictions and disagreements for experts, most important first.
    ReviewQueue {
        #[arg(long, default_value = "0.3,0.6")]
        band: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        assign: Option<String>,
        #[arg(long)]
        run: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Serve the app on 127.0.0.1: the web UI and the same commands as the desktop app, behind
    /// a session token (printed in the URL). Runs until Ctrl-C.
    Serve {
        /// Port (0: any free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The built web UI (default: ui/dist beside the current folder or the executable's
        /// checkout).
        #[arg(long)]
        ui: Option<PathBuf>,
        /// Use this token instead of a random one (at least 16 characters).
        #[arg(long, env = "LACUNA_SERVE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Files the last import (or --job N) could not take, and why.
    Problems {
        #[arg(long)]
        job: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Folders and files to import.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Create the project first if it does not exist.
    #[arg(long)]
    init: bool,
    /// Refuse images whose header claims more pixels than this.
    #[arg(long, default_value_t = ImportOptions::default().max_pixels)]
    max_pixels: u64,
    /// Probe threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Progress as JSON lines on stderr, the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Image filters shared by `images` and `prelabel`.
#[derive(Debug, Args)]
struct FilterArgs {
    /// ok or missing.
    #[arg(long)]
    status: Option<String>,
    /// A folder (absolute, or relative to an imported folder), including subfolders.
    #[arg(long)]
    folder: Option<String>,
    /// Exact camera id as `lacuna status` lists it.
    #[arg(long)]
    camera: Option<String>,
    /// Captured at or after (YYYY-MM-DD[THH:MM:SS]).
    #[arg(long)]
    from: Option<String>,
    /// Captured before (YYYY-MM-DD[THH:MM:SS]).
    #[arg(long)]
    before: Option<String>,
    /// Only images that have exact duplicates.
    #[arg(long, conflicts_with = "no_duplicates")]
    duplicates: bool,
    /// Only images without exact duplicates.
    #[arg(long)]
    no_duplicates: bool,
    /// Only images in this label state (unlabeled, in_progress, labeled, labeled_empty,
    /// reviewed, skipped).
    #[arg(long)]
    state: Option<String>,
    /// Only images nobody has labeled yet (same as --state unlabeled).
    #[arg(long, conflicts_with = "state")]
    unlabeled: bool,
}

impl FilterArgs {
    fn query(self) -> ImageQuery {
        ImageQuery {
            status: self.status,
            folder: self.folder,
            camera: self.camera,
            captured_from: self.from,
            captured_before: self.before,
            has_duplicates: if self.duplicates {
                Some(true)
            } else if self.no_duplicates {
                Some(false)
            } else {
                None
            },
            label_state: if self.unlabeled { Some("unlabeled".to_owned()) } else { self.state },
            ..ImageQuery::default()
        }
    }
}

#[derive(Debug, Args)]
struct ImagesArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Page size (1..=1000).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Continue after this cursor (printed at the end of the previous page).
    #[arg(long)]
    cursor: Option<String>,
    /// Every page, not just one.
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PrelabelArgs {
    /// Weights: an Ultralytics ONNX export, or safetensors with its model.toml. Default: the
    /// bundled YOLOv12n (models/yolov12n.onnx, or $LACUNA_MODEL).
    #[arg(long)]
    model: Option<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    #[arg(long, default_value_t = PrelabelRequest::default().batch_size)]
    batch: u32,
    /// f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    precision: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Also run on the mirrored image (test-time augmentation, for uncertainty).
    #[arg(long)]
    flip_tta: bool,
    /// Lowest score stored.
    #[arg(long, default_value_t = PrelabelRequest::default().keep_threshold)]
    keep_threshold: f32,
    /// Score from which a box is shown as a pre-label.
    #[arg(long, default_value_t = PrelabelRequest::default().display_threshold)]
    display_threshold: f32,
    /// NMS IoU threshold.
    #[arg(long, default_value_t = PrelabelRequest::default().iou_threshold)]
    iou: f32,
    /// Progress as JSON lines on stderr, the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// The UI's build output: `--ui`, else `ui/dist` under the current folder, else under the
/// checkout the executable was built in (`target/<profile>/lacuna` → `ui/dist`).
fn find_ui(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if explicit.is_some() {
        return explicit;
    }
    let mut candidates = vec![PathBuf::from("ui/dist")];
    if let Ok(exe) = std::env::current_exe()
        && let Some(root) = exe.parent().and_then(|p| p.parent()).and_then(|p| p.parent())
    {
        candidates.push(root.join("ui/dist"));
    }
    candidates.into_iter().find(|c| c.join("index.html").is_file())
}

fn serve(
    dir: &std::path::Path,
    author: &str,
    port: u16,
    ui: Option<PathBuf>,
    token: Option<String>,
) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("lacuna"));
    let app = lacuna_app::App::with_project(author, clock, config, dir).map_err(api)?;
    let ui_dir = find_ui(ui);
    if ui_dir.is_none() {
        output::note(
            "note: the web UI is not built (cd ui && npm ci && npm run build); the API still serves",
        );
    }
    let server = lacuna_server::start(Arc::new(app), &lacuna_server::ServeOptions { port, ui_dir, token })?;
    output::print_line(&format!("Lacuna is serving {} at {}", dir.display(), server.url()))?;
    output::note("press Ctrl-C to stop");
    server.wait()?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // `lacuna images | head`: the reader left; that is not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            output::note(&format!("error: {err:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let clock = Arc::new(SystemClock);
    let author = cli
        .author
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "local".to_string());
    match cli.command {
        Command::Labels(cmd) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            labels::labels(&project, &author, cmd)
        }
        Command::Version(cmd) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            labels::version(&project, &author, cmd)
        }
        Command::Export(args) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            labels::export(&project, args)
        }
        Command::Conditions(cmd) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            select::conditions(&project, cmd)
        }
        Command::Coverage { key, target, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            select::coverage(&project, key, target, json)
        }
        Command::Queue { weights, limit, assign, release, run, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            select::queue(&project, weights, limit, assign, run, release, json)
        }
        Command::ReviewQueue { band, limit, assign, run, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            select::review_queue(&project, &band, limit, assign, run, json)
        }
        Command::Serve { port, ui, token } => serve(&cli.project, &author, port, ui, token),
        Command::Init { dir } => {
            let dir = dir.unwrap_or(cli.project);
            let project = Project::create(&dir, clock).map_err(api)?;
            output::print_line(&format!("created project {}", project.dir().display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let project = if args.init {
                Project::open_or_create(&cli.project, clock)
            } else {
                Project::open(&cli.project, clock)
            }
            .map_err(api)?;
            import(&project, args)
        }
        Command::Status { json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            let status = project.status().map_err(api)?;
            if json {
                output::print_json(&status)?;
            } else {
                output::print_status(&status)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Images(args) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            images(&project, args)
        }
        Command::Show { id, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            let details = project.image_details(id).map_err(api)?;
            if json {
                output::print_json(&details)?;
            } else {
                output::print_details(&details)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Prelabel(args) => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            prelabel(&project, args)
        }
        Command::Predictions { run, min_score, flipped, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            let predictions = project.predictions(run, min_score, flipped).map_err(api)?;
            if json {
                output::print_json(&predictions)?;
            } else {
                output::print_predictions(&predictions)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs { json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            let runs = project.model_runs().map_err(api)?;
            if json {
                output::print_json(&runs)?;
            } else {
                output::print_runs(&runs)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Problems { job, json } => {
            let project = Project::open(&cli.project, clock).map_err(api)?;
            let problems = project.problems(job).map_err(api)?;
            if json {
                output::print_json(&problems)?;
            } else {
                output::print_problems(&problems)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(|e| e.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// API errors carry their stable code into the message.
pub(crate) fn api(err: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]", err.message, err.code.as_str())
}

fn import(project: &Project, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let request = ImportRequest {
        paths: args.paths,
        options: ImportOptions {
            max_pixels: args.max_pixels,
            threads: args.threads,
            ..ImportOptions::default()
        },
    };
    let json = args.json;
    let mut reporter = output::ImportReporter::new(json);
    let bar = reporter.bar();
    let job = project
        .start_import(request, move |progress| output::report_progress(&bar, json, progress))
        .map_err(api)?;
    let cancel = job.cancel_flag();
    install_interrupt_handler(cancel).context("installing the Ctrl-C handler")?;
    let summary = job.wait().map_err(api)?;
    reporter.finish(&summary)?;
    Ok(match summary.status {
        ImportStatus::Finished => ExitCode::SUCCESS,
        ImportStatus::FinishedWithProblems => ExitCode::from(EXIT_PROBLEMS),
        ImportStatus::Cancelled => ExitCode::from(EXIT_CANCELLED),
    })
}

/// First Ctrl-C: stop cleanly (what is committed stays). Second: leave at once (still safe:
/// every batch is one transaction).
pub(crate) fn install_interrupt_handler(cancel: Arc<AtomicBool>) -> Result<(), ctrlc::Error> {
    let presses = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            cancel.store(true, Ordering::SeqCst);
            output::note(
                "\nstopping after the current batch… (Ctrl-C again to quit at once; a re-run resumes)",
            );
        } else {
            std::process::exit(i32::from(EXIT_CANCELLED));
        }
    })
}

fn prelabel(project: &Project, args: PrelabelArgs) -> anyhow::Result<ExitCode> {
    let request = PrelabelRequest {
        model: args.model,
        images: args.filter.query(),
        batch_size: args.batch,
        precision: args.precision,
        device: args.device,
        flip_tta: args.flip_tta,
        keep_threshold: args.keep_threshold,
        display_threshold: args.display_threshold,
        iou_threshold: args.iou,
        ..PrelabelRequest::default()
    };
    let json = args.json;
    let reporter = output::ImportReporter::new(json);
    let bar = reporter.bar();
    let job = project
        .start_prelabel(request, move |progress| output::report_prelabel_progress(&bar, json, progress))
        .map_err(api)?;
    install_interrupt_handler(job.cancel_flag()).context("installing the Ctrl-C handler")?;
    let summary = job.wait().map_err(api)?;
    reporter.clear();
    if json {
        output::print_json(&summary)?;
    } else {
        output::print_prelabel_summary(&summary)?;
    }
    Ok(match summary.status {
        PrelabelStatus::Finished => ExitCode::SUCCESS,
        PrelabelStatus::FinishedWithProblems => ExitCode::from(EXIT_PROBLEMS),
        PrelabelStatus::Cancelled => ExitCode::from(EXIT_CANCELLED),
    })
}

fn images(project: &Project, args: ImagesArgs) -> anyhow::Result<ExitCode> {
    let mut query = ImageQuery { cursor: args.cursor, limit: Some(args.limit), ..args.filter.query() };
    let mut all = Vec::new();
    loop {
        let page = project.list_images(&query).map_err(api)?;
        let next = page.next_cursor.clone();
        if args.all {
            all.extend(page.items);
            match next {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        } else {
            if args.json {
                output::print_json(&page)?;
            } else {
                output::print_images(&page.items, next.as_deref())?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    if args.json {
        output::print_json(&all)?;
    } else {
        output::print_images(&all, None)?;
    }
    Ok(ExitCode::SUCCESS)
}
