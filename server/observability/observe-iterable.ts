import { asyncIterable } from "../../common/async-iterable.js";

/**
 * Passes an async iterable through, telling `onItem` of each element and
 * `onEnd` once of how it finished (an error, or undefined when it completed
 * or the consumer stopped early). A plain iterator rather than a generator: on
 * the channel data path every extra await per message shows in the echo
 * round trip.
 */
export function observeIterable<T>(
  source: AsyncIterable<T>,
  onItem: (item: T) => void,
  onEnd: (err: unknown) => void,
): AsyncIterable<T> {
  return asyncIterable(() => {
    const inner = source[Symbol.asyncIterator]();
    let ended = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    return {
      next: () =>
        inner.next().then(
          (result) => {
            if (result.done) end(undefined);
            else onItem(result.value);
            return result;
          },
          (err: unknown) => {
            end(err);
            throw err;
          },
        ),
      return: async (value?: unknown) => {
        end(undefined);
        return (await inner.return?.(value)) ?? { done: true, value: undefined };
      },
      throw: async (err?: unknown) => {
        end(err);
        if (inner.throw) return inner.throw(err);
        throw err;
      },
    };
  });
}
