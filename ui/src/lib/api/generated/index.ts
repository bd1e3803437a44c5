// Generated from the Rust types by scripts/gen-ts-types.sh (crates/app/src/ts.rs). Do not edit.

export type * from './types';
export type * from './commands';
