/** Every default and limit of fleet jobs, in one place (the .proto comments state the same figures). */

/** Steps running at once per job when the request names none; at most MAX_CONCURRENCY. */
export const DEFAULT_CONCURRENCY = 50;
export const MAX_CONCURRENCY = 1_000;
/** Per-agent run time when the request names none: 10 minutes; at most 7 days (MAX_TIMEOUT_MS of Exec). */
export const DEFAULT_STEP_TIMEOUT_MS = 10 * 60_000;
/** How long offline agents' steps wait when the request names nothing: 24 hours; at most 30 days. */
export const DEFAULT_EXPIRE_AFTER_MS = 24 * 3_600_000;
export const MAX_EXPIRE_AFTER_MS = 30 * 24 * 3_600_000;
/** stdin sent to every step (a script): 1 MiB, so a job row stays small. */
export const MAX_JOB_STDIN_BYTES = 1 << 20;
/** Explicit agent ids per job. */
export const MAX_JOB_AGENT_IDS = 10_000;
/** A running step whose agent stays silent this long past its timeout is ended as timed_out by the server. */
export const WATCHDOG_GRACE_MS = 30_000;
/** How often pending steps are checked for expiry. */
export const EXPIRY_SWEEP_MS = 1_000;
/** Step results are written at most this long after they arrive, in one transaction per batch. */
export const WRITE_FLUSH_MS = 50;
/** A batch is written early once it holds this many step results, or this many bytes of output. */
export const WRITE_BATCH_STEPS = 200;
export const WRITE_BATCH_BYTES = 8 << 20;
/** Longest head or tail of a stream a step may report (the contract's StepOutput limit). */
export const MAX_STEP_OUTPUT_BYTES = 64 * 1024;
/** Longest first line of output kept for listings. */
export const FIRST_LINE_CHARS = 200;
/** Steps per WatchJob snapshot page and per GetJob read. */
export const STEP_PAGE = 500;
/** Jobs per ListJobs page when the request names none; at most MAX_JOBS_PAGE. */
export const DEFAULT_JOBS_PAGE = 50;
export const MAX_JOBS_PAGE = 500;
