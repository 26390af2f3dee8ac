/**
 * The server and agent word their errors for any API client ("set
 * overwrite"); a technician at the CLI needs the flag or command instead.
 * One table, applied to every message rmm prints.
 */
const REWORDINGS: ReadonlyArray<readonly [RegExp, string]> = [
  [/: (?:set|pass) overwrite to replace it/, ": pass -f (--force) to replace it"],
  [/: create it or set create_parents/, ": create it, or pass -p (--parents) to rmm cp"],
  [/: download a file \(list it with ListDirectory\)/, ": copy it with rmm cp -r, or list it with rmm ls"],
  [
    /^(?:\w+(?:\.\w+)* )?"([^"]*)" is not absolute: give an absolute path on the agent/,
    "$1 is not absolute: write AGENT:/absolute/path",
  ],
  [/read files \(Stat, ListDirectory, Download\)/, "read files (rmm ls, rmm stat, rmm cp from an agent)"],
  [/write files \(PrepareUpload, Upload, MakeDirectory\)/, "write files (rmm cp to an agent)"],
];

export function cliWording(message: string): string {
  return REWORDINGS.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}
