/**
 * ssh's escape sequences for `rmm shell`, recognised only right after a
 * newline (or at the very start), so a `~` typed mid-line reaches the remote
 * shell untouched:
 *   ~.  leave the session (the remote shell is ended), even when it hangs
 *   ~?  list the escapes
 *   ~~  send one ~
 * A ~ followed by anything else sends both.
 *
 * States: line-start -> (~) -> after-tilde -> (. ? ~ other) -> mid-line or line-start;
 * line-start/mid-line -> (\r or \n) -> line-start.
 */
export type EscapeState = "line-start" | "mid-line" | "after-tilde";
export type EscapeAction = "leave" | "help";

export const ESCAPE_HELP = [
  "Supported escape sequences (after a newline):",
  "  ~.  leave the session; the remote shell is ended",
  "  ~?  this help",
  "  ~~  send one ~",
].join("\r\n");

const TILDE = 0x7e;
const isNewline = (b: number) => b === 0x0d || b === 0x0a;

export class EscapeSequence {
  private state: EscapeState = "line-start";

  /** Splits typed bytes into what goes to the remote shell and the escapes to act on, in order. */
  feed(input: Uint8Array): { send: Buffer; actions: EscapeAction[] } {
    const out: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of input) {
      if (this.state === "after-tilde") {
        if (byte === 0x2e) {
          actions.push("leave");
          this.state = "line-start";
          continue;
        }
        if (byte === 0x3f) {
          actions.push("help");
          this.state = "line-start";
          continue;
        }
        out.push(TILDE);
        if (byte === TILDE) {
          this.state = "mid-line";
          continue;
        }
      } else if (this.state === "line-start" && byte === TILDE) {
        this.state = "after-tilde";
        continue;
      }
      out.push(byte);
      this.state = isNewline(byte) ? "line-start" : "mid-line";
    }
    return { send: Buffer.from(out), actions };
  }
}
