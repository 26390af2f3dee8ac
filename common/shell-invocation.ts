/**
 * The arguments that make `shell` run `commandLine`: POSIX shells take -c,
 * cmd.exe /c (with /d: no AutoRun, /s: keep the line's quotes as given),
 * PowerShell -Command (without profile or prompts).
 */
export function shellArgs(shell: string, commandLine: string): string[] {
  const name = shell
    .split(/[\\/]/)
    .pop()!
    .toLowerCase()
    .replace(/\.exe$/, "");
  if (name === "cmd") return ["/d", "/s", "/c", commandLine];
  if (name === "powershell" || name === "pwsh") return ["-NoProfile", "-NonInteractive", "-Command", commandLine];
  return ["-c", commandLine];
}
