import type { Scheduler } from './spec.ts';

/** Learning rate at optimizer step `step` (0-based): linear warm-up, then cosine, linear or constant. */
export function learningRateAt(
  step: number,
  total: number,
  peak: number,
  warmup: number,
  scheduler: Scheduler,
): number {
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  if (scheduler === 'constant') return peak;
  const span = Math.max(1, total - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  const floor = peak * 0.1;
  if (scheduler === 'linear') return peak - (peak - floor) * progress;
  return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
}
