import type { Writable } from "node:stream";

/** Writes and waits for the stream to drain when it is full, so a slow local reader slows the remote sender. */
export async function writeWithBackpressure(out: Writable, data: Uint8Array): Promise<void> {
  if (out.write(data)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off("drain", onDrain);
      out.off("error", done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    out.once("drain", onDrain);
    out.once("error", done);
  });
}
