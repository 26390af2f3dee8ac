import { stat } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import type { Command } from "commander";
import { downloadFile, uploadFile, type TransferProgress, type TransferResult } from "../../client/file-transfer.js";
import { cliContext } from "../cli-context.js";
import { CliError, ExitCode, fileOperation, usage } from "../cli-error.js";
import { interruptible } from "../interruptible.js";
import { printJson } from "../output-format.js";
import { parseRemotePath, type RemotePath } from "../remote-path.js";
import { withSession } from "../session-scope.js";
import { transferProgressBar } from "../transfer-progress-bar.js";

interface CopyFlags {
  force?: boolean;
  parents?: boolean;
  mode?: string;
  json?: boolean;
  progress: boolean;
}

type Direction =
  { kind: "upload"; local: string; remote: RemotePath } | { kind: "download"; remote: RemotePath; local: string };

/** Exactly one side names an agent, as with scp; copying between two agents or two local paths is not a transfer. */
export function copyDirection(src: string, dst: string): Direction {
  const from = parseRemotePath(src);
  const to = parseRemotePath(dst);
  if (from && to)
    throw new CliError(
      "both sides name an agent: copy to your machine first, then up to the other agent",
      ExitCode.Usage,
    );
  if (!from && !to) throw new CliError("neither side names an agent: write one side as AGENT:PATH", ExitCode.Usage);
  return to ? { kind: "upload", local: src, remote: to } : { kind: "download", remote: from!, local: dst };
}

function parseMode(mode: string | undefined): number | undefined {
  if (mode === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`--mode ${mode} is not octal permission bits like 0644`);
  return parseInt(mode, 8);
}

export function registerCopy(program: Command): void {
  program
    .command("cp")
    .argument("<src>", "a local path or AGENT:PATH")
    .argument(
      "<dst>",
      "a local path or AGENT:PATH (a trailing / or an existing local directory keeps the source's name)",
    )
    .description(
      "copy a file to or from an agent: SHA-256 verified, atomic at the destination, resumed when run again after an interruption",
    )
    .option("-f, --force", "replace an existing destination file")
    .option("-p, --parents", "create missing parent directories on the agent")
    .option("--mode <octal>", "permission bits of an uploaded file (default 0644)")
    .option("--no-progress", "no progress bar even on a terminal")
    .option("--json", "print the result (path, size, sha256, resumedFrom) as JSON")
    .addHelpText(
      "after",
      [
        "",
        "A progress bar (bytes, rate, ETA) shows on a terminal, never when stderr is piped.",
        "An interrupted copy keeps what arrived; run the same command again to continue from there.",
        "",
        "Examples:",
        "  rmm cp ./patch.msi web-01:/tmp/",
        "  rmm cp -p --mode 0755 ./tool web-01:/opt/tools/tool",
        "  rmm cp web-01:/var/log/syslog ./syslog",
      ].join("\n"),
    )
    .action(async (src: string, dst: string, flags: CopyFlags) => {
      const direction = copyDirection(src, dst);
      const mode = usage(() => parseMode(flags.mode));
      const ctx = cliContext();
      const bar = flags.progress && process.stderr.isTTY ? transferProgressBar(process.stderr) : undefined;
      const result = await withSession(ctx, direction.remote.agent, (sessionId) =>
        interruptible((signal) =>
          fileOperation(async () => {
            const onProgress = (p: TransferProgress) => bar?.update(p);
            try {
              if (direction.kind === "upload") {
                const remotePath = direction.remote.path.endsWith("/")
                  ? posix.join(direction.remote.path, basename(direction.local))
                  : direction.remote.path;
                return await uploadFile(ctx.client, {
                  sessionId,
                  localPath: direction.local,
                  remotePath,
                  overwrite: flags.force ?? false,
                  createParents: flags.parents ?? false,
                  ...(mode !== undefined && { mode }),
                  signal,
                  onProgress,
                });
              }
              return await downloadFile(ctx.client, {
                sessionId,
                remotePath: direction.remote.path,
                localPath: await localTarget(direction.local, direction.remote.path),
                overwrite: flags.force ?? false,
                keepMode: true,
                signal,
                onProgress,
              });
            } catch (err) {
              if (signal.aborted)
                throw new CliError(
                  "interrupted: what arrived is kept; run the same command again to resume",
                  ExitCode.Interrupted,
                );
              throw err;
            } finally {
              bar?.stop();
            }
          }),
        ),
      );
      report(result, direction, flags.json ?? false);
    });
}

/** A download into an existing directory (or a path ending in /) keeps the remote file's name, as cp does. */
async function localTarget(local: string, remotePath: string): Promise<string> {
  const isDir =
    local.endsWith("/") ||
    (await stat(local).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  return isDir ? join(local, posix.basename(remotePath)) : local;
}

function report(result: TransferResult, direction: Direction, json: boolean): void {
  if (json) return printJson({ direction: direction.kind, ...result });
  if (!process.stderr.isTTY) return;
  const resumed = result.resumedFrom > 0 ? `, resumed from byte ${result.resumedFrom}` : "";
  const where = direction.kind === "upload" ? `${direction.remote.agent}:${result.path}` : result.path;
  process.stderr.write(`${where}: ${result.size} bytes, sha256 ${result.sha256}${resumed}\n`);
}
