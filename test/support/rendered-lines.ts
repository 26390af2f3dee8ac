/**
 * The lines a terminal shows after `raw` was written to it, for output that
 * only redraws in place: printable text, "\n", "\r", cursor to column (CSI G),
 * erase in line (CSI K) and erase below (CSI J). Every other escape sequence
 * (cursor visibility, wrap mode, save/restore) changes nothing on screen and
 * is dropped. Trailing blanks are trimmed.
 */
export function renderedLines(raw: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  // CSI with parameters, other two-byte escapes (ESC 7, ESC 8), or one character.
  const tokens = raw.match(/\x1b\[[?0-9;]*[A-Za-z]|\x1b[^[]|[^\x1b]/gs) ?? [];
  for (const token of tokens) {
    const line = lines[row]!;
    if (token === "\n") {
      row++;
      lines[row] ??= [];
    } else if (token === "\r") col = 0;
    else if (token.startsWith("\x1b[")) {
      const [, params = "", final] = /^\x1b\[([?0-9;]*)([A-Za-z])$/.exec(token)!;
      const n = Number(params || "0");
      if (final === "G") col = Math.max(0, (n || 1) - 1);
      else if (final === "K") {
        if (n === 0) line.length = Math.min(line.length, col);
        else if (n === 1) line.fill(" ", 0, col + 1);
        else line.length = 0;
      } else if (final === "J" && n === 0) {
        line.length = Math.min(line.length, col);
        lines.length = row + 1;
      }
    } else if (!token.startsWith("\x1b")) {
      while (line.length < col) line.push(" ");
      line[col++] = token;
    }
  }
  return lines.map((l) => l.join("").trimEnd());
}
