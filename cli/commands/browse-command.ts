import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { FileKind, type FileInfo } from "../../gen/rmm/v1/file_pb.js";
import { cliContext } from "../cli-context.js";
import { fileOperation } from "../cli-error.js";
import { formatTime } from "../output-format.js";
import { formatValue, outputFormat, printRecord, withOutputOption, type OutputFlags } from "../output-option.js";
import { absoluteRemotePath, requireRemotePath } from "../remote-path.js";
import { withSession } from "../session-scope.js";

const KIND_LETTER: Record<FileKind, string> = {
  [FileKind.UNSPECIFIED]: "?",
  [FileKind.FILE]: "-",
  [FileKind.DIRECTORY]: "d",
  [FileKind.SYMLINK]: "l",
  [FileKind.OTHER]: "o",
};

function fileJson(f: FileInfo) {
  return {
    path: f.path,
    name: f.name,
    kind: FileKind[f.kind]?.toLowerCase() ?? "unspecified",
    size: Number(f.size),
    mode: `0${f.mode.toString(8)}`,
    modified: f.modifyTime ? timestampDate(f.modifyTime).toISOString() : null,
    ...(f.symlinkTarget && { symlinkTarget: f.symlinkTarget }),
  };
}

const row = (f: FileInfo) => [
  `${KIND_LETTER[f.kind]}${f.mode.toString(8).padStart(4, "0")}`,
  String(f.size).padStart(12),
  formatTime(f.modifyTime).padEnd(19),
  f.symlinkTarget ? `${f.name} -> ${f.symlinkTarget}` : f.name,
];

export function registerBrowse(program: Command): void {
  withOutputOption(program.command("ls"))
    .argument(
      "<agent:path>",
      "a directory on an agent; relative paths (and AGENT: alone) are under the agent user's home",
    )
    .description("list a directory on an agent")
    .addHelpText("after", "\nExample:\n  rmm ls web-01:/var/log")
    .action(async (target: string, flags: OutputFlags) => {
      const ctx = cliContext();
      const remote = requireRemotePath(target);
      const format = outputFormat(flags);
      const structured = format === "json" || format === "yaml";
      await withSession(ctx, remote.agent, (sessionId, agent) =>
        fileOperation(async () => {
          const entries: FileInfo[] = [];
          const path = absoluteRemotePath(remote.path, agent);
          for await (const batch of ctx.client.listDirectory({ sessionId, path })) {
            if (structured) entries.push(...batch.entries);
            // Streamed batch by batch, so fixed widths rather than a table sized to the whole listing.
            else process.stdout.write(batch.entries.map((f) => row(f).join("  ") + "\n").join(""));
          }
          if (structured) process.stdout.write(formatValue(format, entries.map(fileJson)));
        }),
      );
    });
  withOutputOption(program.command("stat"))
    .argument("<agent:path>", "a file or directory on an agent")
    .description("show a file's kind, size, mode and modification time")
    .addHelpText("after", "\nExample:\n  rmm stat web-01:/etc/hosts --json")
    .action(async (target: string, flags: OutputFlags) => {
      const ctx = cliContext();
      const remote = requireRemotePath(target);
      await withSession(ctx, remote.agent, (sessionId, agent) =>
        fileOperation(async () => {
          const { info } = await ctx.client.stat({ sessionId, path: absoluteRemotePath(remote.path, agent) });
          const j = fileJson(info!);
          printRecord(
            outputFormat(flags),
            j,
            () =>
              `${j.path}\n` +
              `  kind     ${j.kind}${j.symlinkTarget ? ` -> ${j.symlinkTarget}` : ""}\n` +
              `  size     ${j.size}\n` +
              `  mode     ${j.mode}\n` +
              `  modified ${j.modified ?? "-"}\n`,
          );
        }),
      );
    });
}
