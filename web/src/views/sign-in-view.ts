import { h } from "../ui/h.js";
import type { View } from "./view.js";

/** Paste a token; `onToken` checks it with a call and comes back here with the reason when it fails. */
export function signInView(root: HTMLElement, reason: string | undefined, onToken: (token: string) => void): View {
  const input = h("textarea", {
    id: "token",
    rows: 5,
    placeholder: "eyJhbGciOi…",
    spellcheck: "false",
    autocomplete: "off",
    "aria-label": "Technician token",
  });
  const form = h(
    "form",
    {
      class: "sign-in card",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (token !== "") onToken(token);
      },
    },
    h("h1", {}, "rmm console"),
    h(
      "p",
      { class: "muted" },
      "Paste a technician token. Mint one with ",
      h("code", {}, "rmm-server token --sub NAME --web"),
      ".",
    ),
    reason ? h("p", { class: "error", role: "alert", id: "sign-in-reason" }, reason) : null,
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    h("p", { class: "muted small" }, "The token stays in this tab only and is forgotten when the tab closes."),
  );
  root.replaceChildren(h("main", { class: "center" }, form));
  input.focus();
  return { dispose: () => undefined };
}
