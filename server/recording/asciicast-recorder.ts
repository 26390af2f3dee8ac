import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../../common/logger.js";

/**
 * Writes a terminal's output as an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/),
 * so `asciinema play FILE` replays it: a header line, then one JSON array per
 * event, `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]`
 * for a resize. Output is decoded as a UTF-8 stream, so a character split
 * across two chunks is written whole, once.
 *
 * A file that cannot be written (EACCES, ENOSPC, ...) must not take the
 * server down or end the terminal: the error is logged with the path (and
 * whatever the given logger carries, such as the session), recording of this
 * terminal stops, and `failed` says so.
 */
export class AsciicastRecorder {
  private out: WriteStream | undefined;
  private readonly decoder = new TextDecoder("utf-8");
  private readonly startedAt = Date.now();
  private closed = false;
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    size: { columns: number; rows: number },
    env: { term: string; shell: string },
    private readonly log: Pick<Logger, "warn">,
  ) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Recordings hold whatever was typed, passwords included: owner-only.
      this.out = createWriteStream(path, { mode: 0o600 });
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.out.on("error", (err) => this.fail(err));
    this.line({
      version: 2,
      width: size.columns,
      height: size.rows,
      timestamp: Math.floor(this.startedAt / 1000),
      env: { TERM: env.term, SHELL: env.shell },
    });
  }

  /** Set once writing failed; the recording is incomplete or absent from then on. */
  get failed(): Error | undefined {
    return this.failure;
  }

  output(data: Uint8Array): void {
    const text = this.decoder.decode(data, { stream: true });
    if (text) this.event("o", text);
  }

  resize(columns: number, rows: number): void {
    this.event("r", `${columns}x${rows}`);
  }

  /** Resolves once the file is complete on disk, or at once if writing it failed. Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    const rest = this.decoder.decode();
    if (rest) this.event("o", rest);
    this.closed = true;
    const out = this.out;
    if (!out || out.destroyed) return;
    // 'close' follows both a finished file (the descriptor is closed) and an error.
    await new Promise<void>((resolve) => {
      out.once("close", resolve);
      out.end();
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.log.warn({ err, path: this.path }, "terminal recording failed; this terminal is no longer recorded");
    this.out?.destroy();
  }

  private event(code: "o" | "r", data: string): void {
    if (this.closed) return;
    this.line([Number(((Date.now() - this.startedAt) / 1000).toFixed(6)), code, data]);
  }

  private line(value: unknown): void {
    if (this.failure || !this.out) return;
    this.out.write(JSON.stringify(value) + "\n");
  }
}
