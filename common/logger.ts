import { pino, type Logger } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

/** Values of `RMM_LOG_FORMAT`: JSON lines for machines (the default), or pino-pretty lines for people (coloured on a terminal). */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === "") return "json";
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`RMM_LOG_FORMAT "${value}" is not one of ${LOG_FORMATS.join(", ")}`);
}

/**
 * Structured logs on stderr, so that commands which print a result on stdout
 * (tokens, JSON) stay pipeable. Level from `RMM_LOG_LEVEL` (default `info`),
 * format from `RMM_LOG_FORMAT`. Pretty output runs pino-pretty as a stream in
 * this process rather than as a worker-thread transport: the packaged agent
 * is one bundle, where a transport's worker could not find its module.
 */
export function createLogger(
  name: string,
  level = process.env.RMM_LOG_LEVEL ?? "info",
  format = parseLogFormat(process.env.RMM_LOG_FORMAT),
): Logger {
  const destination =
    format === "pretty"
      ? PinoPretty({ destination: 2, colorize: process.stderr.isTTY, sync: false, translateTime: "SYS:standard" })
      : pino.destination({ fd: 2, sync: false });
  return pino({ name, level, base: { name } }, destination);
}
