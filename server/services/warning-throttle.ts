/** Warnings one source may log per window before the rest are only counted. Defaults to 10. */
export const WARNINGS_PER_WINDOW = 10;
/** Defaults to 60 s. */
export const WARNING_WINDOW_MS = 60_000;

/**
 * Rate limit for warnings one peer can cause at will: an agent that sent
 * 100,000 frames for unknown channels once grew the log by 23 MB, one line
 * each. The first `max` per window are logged; later ones are counted, and
 * the next logged one says how many were left out.
 */
export class WarningThrottle {
  private windowStart = -Infinity;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly max = WARNINGS_PER_WINDOW,
    private readonly windowMs = WARNING_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The number of warnings left out since the last one logged when this one should be logged; undefined when it should not. */
  admit(): number | undefined {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.max) {
      this.suppressed++;
      return undefined;
    }
    this.inWindow++;
    const left = this.suppressed;
    this.suppressed = 0;
    return left;
  }
}
