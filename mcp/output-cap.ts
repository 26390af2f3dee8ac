/** Output returned inline by one tool call, per stream. Defaults to 16 KiB: it goes into the assistant's context. */
export const INLINE_OUTPUT_CAP_BYTES = 16 * 1024;

/** Inline text that may have been cut in the middle. */
export interface CappedText {
  text: string;
  /** Bytes the text stands for, before any cut. */
  bytes: number;
  /** Bytes left out of the middle; 0 when nothing was cut. */
  cutBytes: number;
}

const decoder = new TextDecoder("utf-8");

/**
 * Keeps the head and the tail (half the cap each) of output longer than the
 * cap: a command's first lines say what it did, its last ones how it ended.
 * The cut is marked in the text itself, so the reader cannot miss it.
 */
export function capText(data: Uint8Array, capBytes = INLINE_OUTPUT_CAP_BYTES): CappedText {
  if (data.length <= capBytes) return { text: decoder.decode(data), bytes: data.length, cutBytes: 0 };
  const head = Math.ceil(capBytes / 2);
  const tail = capBytes - head;
  const cutBytes = data.length - head - tail;
  const note = `\n[... ${cutBytes} bytes cut from the middle (${data.length} in all); read a range with get_command_output offsets ...]\n`;
  return {
    text: decoder.decode(data.subarray(0, head)) + note + decoder.decode(data.subarray(data.length - tail)),
    bytes: data.length,
    cutBytes,
  };
}
