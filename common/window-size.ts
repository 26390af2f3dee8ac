import { Code, ConnectError } from "@connectrpc/connect";
import type { WindowSize } from "../gen/rmm/v1/exec_pb.js";

/** Largest rows or columns accepted. 10,000: far past any real screen, small enough that no PTY library chokes. */
export const MAX_WINDOW_CELLS = 10_000;
/** Used when a terminal is opened without a size: the classic 80x24. */
export const DEFAULT_WINDOW_SIZE = { columns: 80, rows: 24 } as const;

/** A window size both sides accept: 1..10,000 columns and rows. */
export function checkWindowSize(size: Pick<WindowSize, "columns" | "rows">): { columns: number; rows: number } {
  const { columns, rows } = size;
  for (const [what, n] of [
    ["columns", columns],
    ["rows", rows],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW_CELLS) {
      throw new ConnectError(
        `window ${what} must be between 1 and ${MAX_WINDOW_CELLS}, got ${n}`,
        Code.InvalidArgument,
      );
    }
  }
  return { columns, rows };
}
