#!/usr/bin/env node
// `npm run tauri -- <args>`: the Tauri CLI pointed at this repository's layout. The CLI only
// looks for tauri.conf.json below the current folder, and the shell lives beside ui/ in
// ../src-tauri, so both paths are given explicitly (works from any folder, on any OS).

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '@tauri-apps/cli';

const ui = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.env.TAURI_APP_PATH = resolve(ui, '../src-tauri');
process.env.TAURI_FRONTEND_PATH = ui;

run(process.argv.slice(2), 'npm run tauri --').catch((error) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
