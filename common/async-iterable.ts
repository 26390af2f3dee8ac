/**
 * An AsyncIterable whose iterator `open` makes. Writing the object literal
 * `{ [Symbol.asyncIterator]() {...} }` names each new function
 * "[Symbol.asyncIterator]" at run time, a fresh concatenated string per
 * object: on the wrappers every agent stream holds, that was several per
 * idle agent (heap snapshot of 1,000 agents). `open` passed in is not named.
 */
export function asyncIterable<T>(open: () => AsyncIterator<T>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: open };
}
