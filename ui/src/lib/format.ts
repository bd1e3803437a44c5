// Numbers, durations, rates and dates as the views show them.

/** 1234567 → "1,234,567" (fixed locale, so tests and screenshots agree). */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

/** A share 0..1 as a percentage: 0.4321 → "43.2%" (digits: decimals). */
export function formatPercent(share: number | null | undefined, digits = 1): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '–';
  return `${(share * 100).toFixed(digits)}%`;
}

/** Seconds as "45 s", "3 min 05 s", "2 h 07 min"; null or negative as "–". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A rate: 1234.5 → "1,235/s", 3.25 → "3.3/s", with a unit: "1,235 files/s". */
export function formatRate(perSecond: number | null | undefined, unit = ''): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '–';
  const n = perSecond >= 100 ? formatCount(perSecond) : perSecond.toFixed(1);
  return unit ? `${n} ${unit}/s` : `${n}/s`;
}

/** Bytes in binary units: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Unix seconds as a local date and time, "2025-03-04 17:05". */
export function formatUnixTime(unixS: number | null | undefined): string {
  if (unixS === null || unixS === undefined || !Number.isFinite(unixS)) return '–';
  const d = new Date(unixS * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Progress 0..1 from done / total; null when the total is not known yet. */
export function fraction(done: number, total: number | null | undefined): number | null {
  if (total === null || total === undefined || !Number.isFinite(total) || total <= 0) return null;
  return Math.min(1, Math.max(0, done / total));
}

/** `label_state` values as words. */
export function labelStateText(state: string): string {
  return state.replace(/_/g, ' ');
}

/** "1 image", "2,000 images". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}
