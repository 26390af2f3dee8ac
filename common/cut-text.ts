/**
 * Longest text built from someone else's input that goes into an error
 * message, a log line or an audit reason. 512 characters keep a path or a
 * hostname readable; an unbounded one turned a 1 MB download path into an
 * HTTP/2 FRAME_SIZE_ERROR (the message rode in the trailer) instead of its status.
 */
export const CUT_TEXT_MAX = 512;

/**
 * `text` as is when it fits in `max` characters; otherwise its start, marked
 * as cut with the original length, `max` characters in all.
 */
export function cutText(text: string, max = CUT_TEXT_MAX): string {
  if (text.length <= max) return text;
  const marker = `... [cut from ${text.length} chars]`;
  let end = Math.max(0, max - marker.length);
  // Never split a surrogate pair: half of one is not text.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}
