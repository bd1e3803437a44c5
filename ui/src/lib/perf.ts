// User Timing marks for the UI benchmark (scripts/bench-ui.sh) and for anyone profiling in the
// browser's performance panel. Off unless asked for (`localStorage.lacunaPerf = '1'`), so the
// timing buffer never grows in normal use.

/** Whether measures are recorded; read once at start. */
export const perfEnabled: boolean = (() => {
  try {
    return typeof localStorage !== 'undefined' && localStorage.getItem('lacunaPerf') === '1';
  } catch {
    return false; // storage blocked
  }
})();

/** Records `name` from `start` (performance.now() time) to now, with `detail`. */
export function measure(name: string, start: number, detail: Record<string, unknown> = {}): void {
  if (!perfEnabled) return;
  performance.measure(name, { start, end: performance.now(), detail });
}
