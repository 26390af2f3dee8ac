/**
 * The local terminal in raw mode for the life of a remote shell, restored on
 * every way out: normal return, error, signal, or process exit.
 */
export class TerminalMode {
  private raw = false;
  private readonly restoreOnExit = () => this.restore();

  enterRaw(): void {
    if (!process.stdin.isTTY || this.raw) return;
    process.stdin.setRawMode(true);
    this.raw = true;
    process.once("exit", this.restoreOnExit);
  }

  restore(): void {
    if (!this.raw) return;
    this.raw = false;
    process.off("exit", this.restoreOnExit);
    process.stdin.setRawMode(false);
  }
}
