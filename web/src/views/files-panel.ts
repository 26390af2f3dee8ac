import { timestampMs } from "@bufbuild/protobuf/wkt";
import { FileKind, type FileInfo } from "../../../gen/rmm/v1/file_pb.js";
import { describeError, type TunnelClient } from "../api/browser-client.js";
import { downloadFile, uploadFile } from "../api/browser-transfer.js";
import type { AgentPaths } from "../ui/agent-paths.js";
import { bytes, h } from "../ui/h.js";
import type { View } from "./view.js";

/**
 * Browse a directory on the agent (a path that names a file shows its Stat),
 * download a file with the browser's download, upload by drop or picker.
 */
export function filesPanel(root: HTMLElement, client: TunnelClient, sessionId: string, paths: AgentPaths): View {
  const startPath = paths.start;
  const { parent, join } = paths;
  const abort = new AbortController();
  const pathInput = h("input", {
    type: "text",
    id: "files-path",
    value: startPath,
    spellcheck: "false",
    "aria-label": "Path",
  });
  const list = h("tbody");
  const status = h("p", { class: "muted small", id: "files-status" });
  const bar = h("progress", { id: "files-progress", max: 1, value: 0, hidden: true });
  const picker = h("input", { type: "file", id: "files-upload", multiple: true, class: "visually-hidden" });
  const overwrite = h("input", { type: "checkbox", id: "files-overwrite" });
  let cwd = startPath;

  const progress = (what: string) => (done: number, total: number) => {
    bar.hidden = false;
    bar.max = Math.max(total, 1);
    bar.value = done;
    status.textContent = `${what}: ${bytes(done)} of ${bytes(total)}`;
  };

  const open = async (path: string) => {
    status.textContent = `Listing ${path}…`;
    try {
      const { info } = await client.stat({ sessionId, path }, { signal: abort.signal });
      if (info && info.kind !== FileKind.DIRECTORY) return show(path, info);
      const entries: FileInfo[] = [];
      for await (const page of client.listDirectory({ sessionId, path }, { signal: abort.signal }))
        entries.push(...page.entries);
      entries.sort(
        (a, b) =>
          Number(b.kind === FileKind.DIRECTORY) - Number(a.kind === FileKind.DIRECTORY) || a.name.localeCompare(b.name),
      );
      cwd = path;
      pathInput.value = path;
      const up = paths.isRoot(path)
        ? null
        : h("tr", {}, h("td", { colspan: 5 }, h("a", { href: "#", class: "dir", onclick: nav(parent(path)) }, "..")));
      list.replaceChildren(...[up, ...entries.map(row)].filter((r): r is HTMLTableRowElement => r !== null));
      status.textContent = `${entries.length} entries in ${path}`;
    } catch (err) {
      status.textContent = describeError(err);
    }
  };
  /** One file's Stat: its row (with Download) under a link to its directory, and its metadata in the status line. */
  const show = (path: string, info: FileInfo) => {
    cwd = parent(path);
    pathInput.value = path;
    const up = h("tr", {}, h("td", { colspan: 5 }, h("a", { href: "#", class: "dir", onclick: nav(cwd) }, "..")));
    list.replaceChildren(up, row({ ...info, path }));
    const link = info.kind === FileKind.SYMLINK ? `, a link to ${info.symlinkTarget}` : "";
    status.textContent =
      `${path}: ${KIND_NAMES[info.kind] ?? "file"}${link}, ${bytes(Number(info.size))}, ` +
      `mode ${modeText(info.mode)}, modified ${info.modifyTime ? new Date(timestampMs(info.modifyTime)).toLocaleString() : "—"}`;
  };
  const nav = (path: string) => (event: Event) => {
    event.preventDefault();
    void open(path);
  };
  const row = (f: FileInfo) => {
    const isDir = f.kind === FileKind.DIRECTORY;
    const name = isDir
      ? h("a", { href: "#", class: "dir", onclick: nav(f.path) }, `${f.name}/`)
      : h(
          "span",
          {},
          f.name,
          f.kind === FileKind.SYMLINK ? h("span", { class: "muted" }, ` → ${f.symlinkTarget}`) : null,
        );
    return h(
      "tr",
      { "data-name": f.name },
      h("td", { "data-label": "Name" }, name),
      h("td", { "data-label": "Size", class: "num" }, isDir ? "—" : bytes(Number(f.size))),
      h("td", { "data-label": "Mode", class: "mono" }, modeText(f.mode)),
      h("td", { "data-label": "Modified" }, f.modifyTime ? new Date(timestampMs(f.modifyTime)).toLocaleString() : "—"),
      h(
        "td",
        { class: "actions" },
        f.kind === FileKind.FILE
          ? h(
              "button",
              { type: "button", class: "small", "data-download": f.name, onclick: () => void download(f) },
              "Download",
            )
          : null,
      ),
    );
  };
  const download = async (f: FileInfo) => {
    try {
      const blob = await downloadFile(client, sessionId, f.path, progress(`Downloading ${f.name}`), abort.signal);
      const url = URL.createObjectURL(blob);
      h("a", { href: url, download: f.name }).click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = `Downloaded ${f.name} (${bytes(blob.size)}, SHA-256 verified)`;
    } catch (err) {
      status.textContent = `Download failed: ${describeError(err)}`;
    }
    bar.hidden = true;
  };
  const upload = async (files: FileList | File[]) => {
    const outcomes: string[] = [];
    for (const file of Array.from(files)) {
      try {
        await uploadFile(
          client,
          sessionId,
          file,
          join(cwd, file.name),
          overwrite.checked,
          progress(`Uploading ${file.name}`),
          abort.signal,
        );
        outcomes.push(`Uploaded ${file.name} (${bytes(file.size)}, SHA-256 verified by the agent)`);
      } catch (err) {
        outcomes.push(`Upload of ${file.name} failed: ${describeError(err)}`);
      }
    }
    bar.hidden = true;
    await open(cwd);
    status.textContent = outcomes.join("; ");
  };
  picker.addEventListener("change", () => {
    if (picker.files) void upload(picker.files).then(() => (picker.value = ""));
  });
  const drop = h(
    "div",
    { class: "drop", id: "files-drop" },
    h(
      "table",
      { class: "files" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Name"),
          h("th", { class: "num" }, "Size"),
          h("th", {}, "Mode"),
          h("th", {}, "Modified"),
          h("th", {}),
        ),
      ),
      list,
    ),
  );
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer?.files.length) void upload(event.dataTransfer.files);
  });
  root.replaceChildren(
    h(
      "form",
      { class: "row", onsubmit: (event: Event) => (event.preventDefault(), void open(pathInput.value.trim() || "/")) },
      pathInput,
      h("button", { type: "submit" }, "Open"),
      h("label", { class: "button", for: "files-upload" }, "Upload…"),
      picker,
      h("label", { class: "check" }, overwrite, "Replace existing"),
    ),
    h("div", { class: "row" }, bar, status),
    h("div", { class: "card flush" }, drop),
    h("p", { class: "muted small" }, "Drop files on the list to upload them into this directory."),
  );
  void open(startPath);
  return { dispose: () => abort.abort() };
}

const KIND_NAMES: Partial<Record<FileKind, string>> = {
  [FileKind.FILE]: "file",
  [FileKind.DIRECTORY]: "directory",
  [FileKind.SYMLINK]: "symlink",
  [FileKind.OTHER]: "special file",
};

/** Permission bits as ls shows them in octal: "0644". */
function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}
