//! `lacuna labels …`, `lacuna version …` and `lacuna export`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use lacuna_api::{
    AnnotationId, AnnotationInput, Attributes, BoxXyxy, ClassEdit, ExportVersionRequest, Format,
    FreezeRequest, Geometry, ImageId, ImageLabelState, ImageMode, LabelImportRequest, Project, ReviewState,
    RunId,
};

use crate::{EXIT_CANCELLED, EXIT_PROBLEMS, api, install_interrupt_handler, output};

#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Import labels: a COCO JSON, a YOLO dataset (folder, data.yaml or label file) or Pascal
    /// VOC XML (file or folder). Images are matched by relative path, then by file name.
    Import {
        file: PathBuf,
        /// coco, yolo or voc (detected from the path when omitted).
        #[arg(long)]
        format: Option<String>,
        /// Delete the matched images' existing annotations first.
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        json: bool,
    },
    /// The project's classes with annotation counts.
    Classes {
        #[arg(long)]
        json: bool,
    },
    /// Create, edit, merge or delete a class.
    #[command(subcommand)]
    Class(ClassCommand),
    /// The annotations of an image.
    List {
        image: i64,
        #[arg(long)]
        json: bool,
    },
    /// Draw an annotation on an image (a box or a polygon, in image pixels).
    Add(AddArgs),
    /// Delete annotations.
    Delete {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Accept, reject or reset the review state of annotations.
    Review {
        #[arg(required = true)]
        ids: Vec<i64>,
        /// accepted, rejected or unreviewed.
        #[arg(long)]
        state: String,
    },
    /// Set an image's label state: unlabeled, in_progress, labeled, labeled_empty, reviewed,
    /// skipped.
    State { image: i64, state: String },
    /// How many images are in each label state.
    States {
        #[arg(long)]
        json: bool,
    },
    /// Undo your latest edit.
    Undo,
    /// Redo your latest undone edit.
    Redo,
    /// The edit journal, newest first.
    History {
        #[arg(long)]
        image: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Turn a run's predictions into annotations awaiting review.
    Adopt {
        #[arg(long)]
        run: i64,
        #[arg(long, default_value_t = 0.25)]
        min_score: f32,
        /// Only these images (default: every image of the run).
        #[arg(long)]
        image: Vec<i64>,
        /// Also mark the images that got annotations `labeled`.
        #[arg(long)]
        mark_labeled: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClassCommand {
    Add {
        name: String,
        /// #rrggbb
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        hotkey: Option<String>,
    },
    /// Rename, recolour or re-key (an empty --hotkey clears it).
    Edit {
        class: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        hotkey: Option<String>,
    },
    /// Move every annotation of FROM into INTO and delete FROM.
    Merge { from: String, into: String },
    /// Delete a class; its annotations move to --reassign-to (required when it has any).
    Delete {
        class: String,
        #[arg(long)]
        reassign_to: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    image: i64,
    #[arg(long)]
    class: String,
    /// x0,y0,x1,y1
    #[arg(long, conflicts_with = "polygon", required_unless_present = "polygon")]
    r#box: Option<String>,
    /// x1,y1,x2,y2,x3,y3,... (repeat for more parts)
    #[arg(long)]
    polygon: Vec<String>,
    #[arg(long)]
    occluded: bool,
    #[arg(long)]
    truncated: bool,
    #[arg(long)]
    tag: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Freeze the finished images' labels into a version (prints its id).
    Freeze {
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        notes: String,
        /// Parent version (default: the newest).
        #[arg(long)]
        parent: Option<String>,
        /// train,val,test ratios.
        #[arg(long, default_value = "0.8,0.1,0.1")]
        split: String,
        /// What never straddles splits: image, camera, capture_day or folder.
        #[arg(long, default_value = "image")]
        group_by: String,
        #[arg(long)]
        json: bool,
    },
    /// Versions, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// What changed from version A to version B.
    Diff {
        from: String,
        to: String,
        /// Most entries per detail list.
        #[arg(long, default_value_t = 1000)]
        max_details: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The version: its id, a unique prefix of it, or its name.
    #[arg(long)]
    version: String,
    /// coco, yolo, yolo-seg, voc or masks.
    #[arg(long)]
    format: String,
    /// The folder to write (must not exist or be empty, unless --overwrite).
    out: PathBuf,
    /// copy, hardlink, reference (COCO/VOC name the original files) or none.
    #[arg(long, default_value = "copy")]
    images: String,
    #[arg(long)]
    overwrite: bool,
    #[arg(long)]
    json: bool,
}

fn parse_numbers(s: &str, what: &str) -> anyhow::Result<Vec<f64>> {
    s.split(',')
        .map(|t| t.trim().parse::<f64>().with_context(|| format!("{what}: `{t}` is not a number")))
        .collect()
}

pub fn labels(project: &Project, author: &str, cmd: LabelsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabelsCommand::Import { file, format, replace, json } => {
            let format = format
                .map(|f| {
                    Format::parse(&f).with_context(|| format!("--format {f}: expected coco, yolo or voc"))
                })
                .transpose()?;
            let req = LabelImportRequest { path: file, format, replace, author: author.to_string() };
            let report = project.import_labels(&req).map_err(api)?;
            if json {
                output::print_json(&report)?;
            } else {
                output::print_label_import(&report)?;
            }
            Ok(if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_PROBLEMS) })
        }
        LabelsCommand::Classes { json } => {
            let classes = project.classes().map_err(api)?;
            if json {
                output::print_json(&classes)?;
            } else {
                output::print_classes(&classes)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Class(cmd) => {
            match cmd {
                ClassCommand::Add { name, color, hotkey } => {
                    let c = project
                        .create_class(author, &name, color.as_deref(), hotkey.as_deref())
                        .map_err(api)?;
                    output::print_line(&format!("created class {} ({}, id {})", c.name, c.color, c.id))?;
                }
                ClassCommand::Edit { class, name, color, hotkey } => {
                    let edit = ClassEdit { name, color, hotkey, position: None };
                    let c = project.update_class(author, &class, &edit).map_err(api)?;
                    output::print_line(&format!(
                        "class {} ({}, hotkey {})",
                        c.name,
                        c.color,
                        c.hotkey.as_deref().unwrap_or("-")
                    ))?;
                }
                ClassCommand::Merge { from, into } => {
                    let n = project.merge_classes(author, &from, &into).map_err(api)?;
                    output::print_line(&format!("merged {from} into {into}: {n} annotations moved"))?;
                }
                ClassCommand::Delete { class, reassign_to } => {
                    let n = project.delete_class(author, &class, reassign_to.as_deref()).map_err(api)?;
                    output::print_line(&format!("deleted class {class} ({n} annotations reassigned)"))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::List { image, json } => {
            let anns = project.annotations(ImageId(image)).map_err(api)?;
            if json {
                output::print_json(&anns)?;
            } else {
                let classes = project.classes().map_err(api)?;
                output::print_annotations(&anns, &classes)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Add(args) => {
            let geometry = match args.r#box {
                Some(b) => {
                    let v = parse_numbers(&b, "--box")?;
                    anyhow::ensure!(v.len() == 4, "--box: give x0,y0,x1,y1 (4 numbers), got {}", v.len());
                    Geometry::Box(BoxXyxy { x0: v[0], y0: v[1], x1: v[2], y1: v[3] })
                }
                None => {
                    let mut parts = Vec::new();
                    for p in &args.polygon {
                        let v = parse_numbers(p, "--polygon")?;
                        anyhow::ensure!(v.len() % 2 == 0, "--polygon: an odd count of numbers ({})", v.len());
                        parts.push(v.chunks_exact(2).map(|c| [c[0], c[1]]).collect());
                    }
                    Geometry::Polygon { parts }
                }
            };
            let input = AnnotationInput {
                image: ImageId(args.image),
                class: args.class,
                geometry,
                attributes: Attributes {
                    occluded: args.occluded,
                    truncated: args.truncated,
                    crowd: false,
                    tags: args.tag,
                },
            };
            let created = project.add_annotations(author, &[input]).map_err(api)?;
            if args.json {
                output::print_json(&created[0])?;
            } else {
                output::print_line(&format!("created annotation {}", created[0].id))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Delete { ids } => {
            let ids: Vec<AnnotationId> = ids.into_iter().map(AnnotationId).collect();
            project.delete_annotations(author, &ids).map_err(api)?;
            output::print_line(&format!("deleted {} annotation(s)", ids.len()))?;
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Review { ids, state } => {
            let state = ReviewState::parse(&state)
                .with_context(|| format!("--state {state}: expected accepted, rejected or unreviewed"))?;
            let ids: Vec<AnnotationId> = ids.into_iter().map(AnnotationId).collect();
            project.review(author, &ids, state).map_err(api)?;
            output::print_line(&format!("{} annotation(s) {}", ids.len(), state.as_str()))?;
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::State { image, state } => {
            let parsed = ImageLabelState::parse(&state).with_context(|| {
                format!("state `{state}`: expected unlabeled, in_progress, labeled, labeled_empty, reviewed or skipped")
            })?;
            project.set_image_state(author, ImageId(image), parsed).map_err(api)?;
            output::print_line(&format!("image {image}: {}", parsed.as_str()))?;
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::States { json } => {
            let states = project.label_states().map_err(api)?;
            if json {
                output::print_json(&states)?;
            } else {
                for s in states {
                    output::print_line(&format!("{:<14} {}", s.state.as_str(), s.images))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Undo => {
            match project.undo(author).map_err(api)? {
                Some(s) => output::print_line(&format!("undid: {} ({} changes)", s.label, s.events))?,
                None => output::print_line("nothing to undo")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Redo => {
            match project.redo(author).map_err(api)? {
                Some(s) => output::print_line(&format!("redid: {} ({} changes)", s.label, s.events))?,
                None => output::print_line("nothing to redo")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::History { image, limit, json } => {
            let events = project.history(image.map(ImageId), limit).map_err(api)?;
            if json {
                output::print_json(&events)?;
            } else {
                for e in events {
                    output::print_line(&format!(
                        "#{:<6} {} {:<8} {:<5} {} {} {} ({})",
                        e.seq,
                        e.at_unix_s,
                        e.author,
                        e.action_kind,
                        e.op,
                        e.entity,
                        e.entity_id,
                        e.action_label
                    ))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        LabelsCommand::Adopt { run, min_score, image, mark_labeled } => {
            let images: Vec<ImageId> = image.into_iter().map(ImageId).collect();
            let n = project
                .adopt_predictions(author, RunId(run), min_score, &images, mark_labeled)
                .map_err(api)?;
            output::print_line(&format!("{n} predictions became annotations awaiting review"))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn version(project: &Project, author: &str, cmd: VersionCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VersionCommand::Freeze { name, notes, parent, split, group_by, json } => {
            let req = FreezeRequest {
                name,
                notes,
                parent,
                split: Some(split),
                group_by: Some(group_by),
                author: author.to_string(),
            };
            let result = project.freeze_version(&req).map_err(api)?;
            if json {
                output::print_json(&result)?;
            } else {
                let v = &result.version;
                if !result.created {
                    output::note(&format!(
                        "the labels are unchanged since version {}: nothing new frozen",
                        v.name
                    ));
                }
                let splits: Vec<String> =
                    result.split_counts.iter().map(|(s, n)| format!("{} {n}", s.as_str())).collect();
                output::note(&format!(
                    "{}: {} images ({}), {} annotations, {} classes{}",
                    v.name,
                    v.images,
                    splits.join(" / "),
                    v.annotations,
                    v.classes.len(),
                    if result.images_missing > 0 {
                        format!(
                            "; {} finished images left out: their files are missing",
                            result.images_missing
                        )
                    } else {
                        String::new()
                    }
                ));
                output::print_line(&v.id)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        VersionCommand::List { json } => {
            let versions = project.versions().map_err(api)?;
            if json {
                output::print_json(&versions)?;
            } else {
                output::print_versions(&versions)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        VersionCommand::Diff { from, to, max_details, json } => {
            let diff = project.diff_versions(&from, &to, max_details).map_err(api)?;
            if json {
                output::print_json(&diff)?;
            } else {
                output::print_diff(&diff)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn export(project: &Project, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)
        .with_context(|| format!("--format {}: expected coco, yolo, yolo-seg, voc or masks", args.format))?;
    let images = ImageMode::parse(&args.images)
        .with_context(|| format!("--images {}: expected copy, hardlink, reference or none", args.images))?;
    let req = ExportVersionRequest {
        version: args.version,
        format,
        out_dir: args.out,
        images,
        overwrite: args.overwrite,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    install_interrupt_handler(Arc::clone(&cancel)).context("installing the Ctrl-C handler")?;
    let reporter = output::ImportReporter::new(args.json);
    let bar = reporter.bar();
    let result = project.export_version(
        &req,
        &mut |done, total| {
            if !args.json {
                bar.set_length(total);
                bar.set_position(done);
            }
        },
        &cancel,
    );
    reporter.clear();
    let summary = match result {
        Ok(s) => s,
        Err(e) if e.code == lacuna_api::ErrorCode::Cancelled => {
            output::note("export cancelled; nothing was written");
            return Ok(ExitCode::from(EXIT_CANCELLED));
        }
        Err(e) => return Err(api(e)),
    };
    if args.json {
        output::print_json(&summary)?;
    } else {
        output::print_line(&format!(
            "exported {} images, {} annotations as {} to {} ({} files, {:.1} MB); manifest: {}",
            summary.images,
            summary.annotations,
            summary.format.as_str(),
            summary.out_dir.display(),
            summary.files,
            summary.bytes as f64 / 1e6,
            summary.manifest.display()
        ))?;
        for (reason, n) in &summary.skipped {
            output::note(&format!("note: {n} × {reason}"));
        }
        if summary.link_fallbacks > 0 {
            output::note(&format!(
                "note: {} images were copied: the file system refused hard links",
                summary.link_fallbacks
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
