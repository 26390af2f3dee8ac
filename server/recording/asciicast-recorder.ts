import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";

/**
 * Writes a terminal's output as an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/),
 * so `asciinema play FILE` replays it: a header line, then one JSON array per
 * event, `[seconds, "o", text]` for output and `[seconds, "r", "COLSxROWS"]`
 * for a resize. Output is decoded as a UTF-8 stream, so a character split
 * across two chunks is written whole, once.
 */
export class AsciicastRecorder {
  private readonly out: WriteStream;
  private readonly decoder = new TextDecoder("utf-8");
  private readonly startedAt = Date.now();
  private closed = false;

  constructor(readonly path: string, size: { columns: number; rows: number }, env: { term: string; shell: string }) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Recordings hold whatever was typed, passwords included: owner-only.
    this.out = createWriteStream(path, { mode: 0o600 });
    this.line({ version: 2, width: size.columns, height: size.rows, timestamp: Math.floor(this.startedAt / 1000), env: { TERM: env.term, SHELL: env.shell } });
  }

  output(data: Uint8Array): void {
    const text = this.decoder.decode(data, { stream: true });
    if (text) this.event("o", text);
  }

  resize(columns: number, rows: number): void {
    this.event("r", `${columns}x${rows}`);
  }

  /** Resolves once the file is complete on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    const rest = this.decoder.decode();
    if (rest) this.event("o", rest);
    this.closed = true;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }

  private event(code: "o" | "r", data: string): void {
    if (this.closed) return;
    this.line([Number(((Date.now() - this.startedAt) / 1000).toFixed(6)), code, data]);
  }

  private line(value: unknown): void {
    this.out.write(JSON.stringify(value) + "\n");
  }
}
