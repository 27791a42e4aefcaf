/** The live progress line: a bar, counts and an ETA from the rate so far. */
export interface ProgressBatch {
  status: string;
  counters: { total: number; succeeded: number; failed: number; cancelled: number; remaining: number };
  startedAt: string | null;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function renderProgress(b: ProgressBatch, now: number, width = 30): string {
  const { total, succeeded, failed, cancelled, remaining } = b.counters;
  const processed = succeeded + failed + cancelled;
  const ratio = total === 0 ? 1 : processed / total;
  const filled = Math.round(ratio * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  let eta = '';
  if (remaining > 0 && processed > 0 && b.startedAt) {
    const elapsed = now - Date.parse(b.startedAt);
    if (elapsed > 0) eta = ` ETA ${formatDuration((elapsed / processed) * remaining)}`;
  } else if (remaining > 0) eta = ' ETA …';
  return `[${bar}] ${processed}/${total} ${(ratio * 100).toFixed(1)}% ok ${succeeded} failed ${failed} cancelled ${cancelled} ${b.status}${eta}`;
}
