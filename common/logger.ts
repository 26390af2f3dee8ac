import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON logs on stderr, so that commands which print a result on
 * stdout (tokens, JSON) stay pipeable. Level from `RMM_LOG_LEVEL`; defaults to
 * `info`.
 */
export function createLogger(name: string, level = process.env.RMM_LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ fd: 2, sync: false }));
}
