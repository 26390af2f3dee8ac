import type { ExitStatus } from "../gen/rmm/v1/exec_pb.js";

/**
 * `rmm exec -o json`: one JSON object per line (NDJSON), so a script reads
 * the output as it arrives and the exit status at the end:
 *   {"type":"output","stream":"stdout","data":"hello\n"}
 *   {"type":"exit","exitCode":0,"signal":null,"timedOut":false}
 * Output that is not valid UTF-8 comes as "dataBase64" instead of "data".
 * rmm's own errors still go to stderr as one line, with rmm's exit status.
 */
export type ExecEvent =
  | { type: "output"; stream: "stdout" | "stderr"; data?: string; dataBase64?: string }
  | { type: "exit"; exitCode: number | null; signal: string | null; timedOut: boolean };

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function outputEvent(stream: "stdout" | "stderr", bytes: Uint8Array): ExecEvent {
  try {
    return { type: "output", stream, data: utf8.decode(bytes) };
  } catch {
    return { type: "output", stream, dataBase64: Buffer.from(bytes).toString("base64") };
  }
}

export function exitEvent(exit: ExitStatus): ExecEvent {
  return {
    type: "exit",
    exitCode: exit.exitCode ?? null,
    signal: exit.signal || null,
    timedOut: exit.timedOut,
  };
}

export const eventLine = (event: ExecEvent) => Buffer.from(JSON.stringify(event) + "\n");
