import { h } from "../ui/h.js";
import type { View } from "./view.js";

/**
 * A view whose module loads on first use: xterm.js is most of the bundle and
 * only the terminal and the recording player need it. Disposed before the
 * module arrived, nothing is rendered.
 */
export function lazyView(root: HTMLElement, load: () => Promise<(root: HTMLElement) => View>): View {
  let view: View | undefined;
  let disposed = false;
  root.replaceChildren(h("p", { class: "muted small" }, "Loading…"));
  load().then(
    (make) => {
      if (!disposed) view = make(root);
    },
    (err: unknown) => {
      if (!disposed)
        root.replaceChildren(
          h("p", { class: "error" }, `Could not load this page (${String(err)}); reload to try again.`),
        );
    },
  );
  return {
    dispose: () => {
      disposed = true;
      view?.dispose();
    },
  };
}
