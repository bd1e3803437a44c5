//! TypeScript declarations of everything the UI sends or receives (feature `ts`): every
//! command's arguments and answer (from the table in `commands.rs`), the event payloads, and the
//! job progress and summary types those carry, with everything they reference. Written to
//! `ui/src/lib/api/generated/` by `scripts/gen-ts-types.sh` (the `gen-ts` binary) and checked
//! against the committed files by `scripts/check-ts-types.sh`.
//!
//! The files:
//! - `types.ts`: one `export type` per Rust type, sorted by name;
//! - `commands.ts`: `Commands` (command name → `{ args; answer }`) and `Events` (event name →
//!   payload), in the table's order;
//! - `index.ts`: re-exports both.
//!
//! Integers are `number` (ids and counts stay far below 2^53); `Option` fields are `T | null`,
//! and fields a request may leave out are optional (`field?:`).

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use lacuna_api::{
    AnnotationSource, ExportSummary, ImportProgress, ImportSummary, PrelabelProgress, PrelabelSummary,
};
use ts_rs::{Config, TS, TypeVisitor};

use crate::commands::{Command, CommandVisitor, visit_commands};
use crate::events::{AppEvent, ExportProgress, JobFinished, JobProgress, LabelsChanged, ProjectOpened};

/// The first line of every generated file.
pub const HEADER: &str =
    "// Generated from the Rust types by scripts/gen-ts-types.sh (crates/app/src/ts.rs). Do not edit.\n";

/// The folder the files belong in, relative to the repository root.
pub const OUT_DIR: &str = "ui/src/lib/api/generated";

fn config() -> Config {
    Config::new().with_large_int("number")
}

/// Every declaration reachable from the roots, by TypeScript name.
struct Declarations {
    cfg: Config,
    /// TypeScript name of each Rust type seen.
    seen: HashMap<TypeId, String>,
    decls: BTreeMap<String, String>,
    errors: Vec<String>,
}

impl Declarations {
    /// Declares `T` (when it is a named type) and everything it references.
    fn root<T: TS + 'static + ?Sized>(&mut self) {
        self.visit::<T>();
        T::visit_generics(self);
    }
}

impl TypeVisitor for Declarations {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Primitives and std containers have no declaration of their own.
        if T::output_path().is_none() || self.seen.contains_key(&TypeId::of::<T>()) {
            return;
        }
        let name = T::ident(&self.cfg);
        self.seen.insert(TypeId::of::<T>(), name.clone());
        if self.decls.contains_key(&name) {
            self.errors.push(format!(
                "two Rust types are both `{name}` in TypeScript (the second is {}): rename one with #[ts(rename = \"...\")]",
                std::any::type_name::<T>()
            ));
            return;
        }
        let decl = format!("{}export {}", T::docs().unwrap_or_default(), T::decl(&self.cfg));
        self.decls.insert(name, decl);
        T::visit_dependencies(self);
    }
}

/// The `Commands` map's entries, and their types as roots.
struct Commands<'a> {
    decls: &'a mut Declarations,
    entries: String,
    /// The TypeScript types the entries name (for the import list).
    refs: String,
}

impl CommandVisitor for Commands<'_> {
    fn visit<C: Command>(&mut self)
    where
        C::Args: TS + 'static,
        C::Answer: TS + 'static,
    {
        self.decls.root::<C::Args>();
        self.decls.root::<C::Answer>();
        let summary = crate::COMMANDS.iter().find(|c| c.name == C::NAME).map_or("", |c| c.summary);
        let cfg = &self.decls.cfg;
        let (args, answer) = (<C::Args as TS>::name(cfg), <C::Answer as TS>::name(cfg));
        let _ = writeln!(
            self.entries,
            "  /** {summary} */\n  {}: {{ args: {args}; answer: {answer} }};",
            C::NAME
        );
        let _ = writeln!(self.refs, "{args} {answer}");
    }
}

fn event<E: AppEvent + TS + 'static>(decls: &mut Declarations, entries: &mut String) {
    decls.root::<E>();
    let _ = writeln!(entries, "  {}: {};", E::NAME, <E as TS>::name(&decls.cfg));
}

/// The generated files: name and content, in a stable order.
pub fn files() -> Result<Vec<(&'static str, String)>, String> {
    let mut decls =
        Declarations { cfg: config(), seen: HashMap::new(), decls: BTreeMap::new(), errors: Vec::new() };

    let mut commands = Commands { decls: &mut decls, entries: String::new(), refs: String::new() };
    visit_commands(&mut commands);
    let (command_entries, command_refs) = (commands.entries, commands.refs);

    let mut event_entries = String::new();
    event::<ProjectOpened>(&mut decls, &mut event_entries);
    event::<LabelsChanged>(&mut decls, &mut event_entries);
    event::<JobProgress>(&mut decls, &mut event_entries);
    event::<JobFinished>(&mut decls, &mut event_entries);
    // Named by the `progress` and `summary` fields above (their JSON is built per job kind).
    decls.root::<ImportProgress>();
    decls.root::<PrelabelProgress>();
    decls.root::<ExportProgress>();
    decls.root::<ImportSummary>();
    decls.root::<PrelabelSummary>();
    decls.root::<ExportSummary>();
    // Flattened into `Annotation`; declared on its own too for the UI.
    decls.root::<AnnotationSource>();

    if !decls.errors.is_empty() {
        return Err(decls.errors.join("\n"));
    }

    let mut types = String::from(HEADER);
    for decl in decls.decls.values() {
        types.push('\n');
        types.push_str(decl);
        types.push('\n');
    }

    let names: Vec<&str> = decls.decls.keys().map(String::as_str).collect();
    let mut commands = String::from(HEADER);
    let _ = write!(
        commands,
        "\nimport type {{\n{}}} from './types';\n\n\
         /** Every command of the table (crates/app/src/commands.rs): its arguments and its answer. */\n\
         export interface Commands {{\n{command_entries}}}\n\n\
         /** Every event a subscriber may receive, with its payload. */\n\
         export interface Events {{\n{event_entries}}}\n\n\
         export type CommandName = keyof Commands;\n\
         export type CommandArgs<C extends CommandName> = Commands[C]['args'];\n\
         export type CommandAnswer<C extends CommandName> = Commands[C]['answer'];\n\
         export type EventName = keyof Events;\n\
         export type EventPayload<E extends EventName> = Events[E];\n",
        imports(&names, &format!("{command_refs}\n{event_entries}"))
    );

    let index = format!("{HEADER}\nexport type * from './types';\nexport type * from './commands';\n");
    Ok(vec![("commands.ts", commands), ("index.ts", index), ("types.ts", types)])
}

/// The import list of `commands.ts`: the declared names that `refs` (TypeScript types) use.
fn imports(names: &[&str], refs: &str) -> String {
    let words: std::collections::BTreeSet<&str> =
        refs.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    names.iter().filter(|n| words.contains(*n)).map(|n| format!("  {n},\n")).collect()
}

/// Writes the files into `dir` (created if needed) and removes generated files that are no
/// longer generated. Returns the names written.
pub fn write(dir: &Path) -> Result<Vec<&'static str>, String> {
    let files = files()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let stale = !files.iter().any(|(n, _)| name.to_str() == Some(*n));
        let ours = std::fs::read_to_string(&path).is_ok_and(|text| text.starts_with(HEADER));
        if stale && ours {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(files.iter().map(|(n, _)| *n).collect())
}
