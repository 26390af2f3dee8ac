import type { Command } from "commander";
import { cliContext } from "../cli-context.js";
import { CliError, ExitCode, fileOperation, usage } from "../cli-error.js";
import { copyArgs, planDownload, planUpload, type CopyArgs, type CopyPlan } from "../copy-plan.js";
import { runCopy, type CopyOutcome } from "../copy-runner.js";
import { interruptible } from "../interruptible.js";
import { printJson } from "../output-format.js";
import { remotePathStyle } from "../remote-path.js";
import { withSession } from "../session-scope.js";
import { transferProgressBar } from "../transfer-progress-bar.js";
import { TreeProgress } from "../tree-progress.js";

interface CopyFlags {
  recursive?: boolean;
  force?: boolean;
  parents?: boolean;
  mode?: string;
  json?: boolean;
  progress: boolean;
}

function parseMode(mode: string | undefined): number | undefined {
  if (mode === undefined) return undefined;
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`--mode ${mode} is not octal permission bits like 0644`);
  return parseInt(mode, 8);
}

export function registerCopy(program: Command): void {
  program
    .command("cp")
    .argument("<paths...>", "SRC... DST: local paths or AGENT:PATH, every source on one side and DST on the other")
    .description(
      "copy files or trees to or from an agent: SHA-256 verified, atomic at the destination, resumed when run again after an interruption",
    )
    .option("-r, --recursive", "copy directories and everything in them")
    .option("-f, --force", "replace existing destination files")
    .option("-p, --parents", "create missing parent directories on the agent")
    .option("--mode <octal>", "permission bits of uploaded files (default 0644; a tree keeps each file's own)")
    .option("--no-progress", "no progress bar even on a terminal")
    .option("--json", "print the result (path, size, sha256, resumedFrom per file) as JSON")
    .addHelpText(
      "after",
      [
        "",
        "AGENT:PATH is absolute, or relative to the agent user's home (AGENT:notes.txt; AGENT: is the home), as",
        "with scp. Remote sources may be globs (quote them: 'web-01:/var/log/*.log'), expanded on the agent's",
        "listing. Several sources go into a directory; a trailing / or an existing directory keeps the source's name.",
        "",
        "One progress bar (bytes, rate, ETA) shows on a terminal for the whole copy, never when stderr is piped.",
        "An interrupted copy keeps what arrived; run the same command again to continue from there. With -r or",
        "several sources, files keep their modification times and a target that already has the source's size",
        "and time is left alone, so a rerun copies only what is missing. Symlinks to directories and special",
        "files are not copied (stderr lists them); empty directories are copied too, as scp -r does.",
        "",
        "Examples:",
        "  rmm cp ./patch.msi web-01:/tmp/",
        "  rmm cp -p --mode 0755 ./tool web-01:/opt/tools/tool",
        "  rmm cp web-01:/var/log/syslog ./syslog",
        "  rmm cp -r ./site web-01:/srv/",
        "  rmm cp -r web-01:/etc/nginx ./nginx-web-01",
        "  rmm cp a.conf b.conf web-01:/etc/app/",
        "  rmm cp 'web-01:/var/log/*.log' ./logs/",
        "  rmm cp web-01:notes.txt .",
      ].join("\n"),
    )
    .action(async (paths: string[], flags: CopyFlags) => {
      const args = copyArgs(paths);
      const mode = usage(() => parseMode(flags.mode));
      const ctx = cliContext();
      const bar = flags.progress && process.stderr.isTTY ? transferProgressBar(process.stderr) : undefined;
      const { plan, outcome } = await withSession(ctx, args.agent, (sessionId, agent) =>
        interruptible((signal) =>
          fileOperation(async () => {
            const files = { client: ctx.client, sessionId, signal, paths: remotePathStyle(agent) };
            let plan: CopyPlan | undefined;
            try {
              plan =
                args.direction === "upload"
                  ? await planUpload(files, agent, args, flags.recursive ?? false)
                  : await planDownload(files, agent, args, flags.recursive ?? false);
              for (const path of plan.skipped)
                process.stderr.write(`rmm: ${path} is not copied: a symlink to a directory or a special file\n`);
              const total = plan.files.reduce((sum, f) => sum + f.size, 0);
              const outcome = await runCopy(files, plan, {
                direction: args.direction,
                force: flags.force ?? false,
                parents: flags.parents ?? false,
                mode,
                progress: new TreeProgress(bar, total),
              });
              return { plan, outcome };
            } catch (err) {
              if (signal.aborted) throw interrupted(plan);
              throw err;
            } finally {
              bar?.stop();
            }
          }),
        ),
      );
      report(args, plan, outcome, flags.json ?? false);
    });
}

function report(args: CopyArgs, plan: CopyPlan, outcome: CopyOutcome, json: boolean): void {
  const where = (path: string) => (args.direction === "upload" ? `${args.agent}:${path}` : path);
  if (!plan.tree) {
    // One file: the shape rmm cp always printed.
    const result = outcome.copied[0];
    if (!result) return;
    if (json) return printJson({ direction: args.direction, ...result });
    if (!process.stderr.isTTY) return;
    const resumed = result.resumedFrom > 0 ? `, resumed from byte ${result.resumedFrom}` : "";
    process.stderr.write(`${where(result.path)}: ${result.size} bytes, sha256 ${result.sha256}${resumed}\n`);
    return;
  }
  if (json)
    return printJson({
      direction: args.direction,
      files: outcome.copied,
      unchanged: outcome.unchanged,
      skipped: plan.skipped,
    });
  if (!process.stderr.isTTY) return;
  const bytes = outcome.copied.reduce((sum, r) => sum + r.size - r.resumedFrom, 0);
  const unchanged = outcome.unchanged.length ? `, ${outcome.unchanged.length} already there` : "";
  process.stderr.write(`${outcome.copied.length} files copied (${bytes} bytes)${unchanged}\n`);
}

function interrupted(plan: CopyPlan | undefined): CliError {
  const resume = plan?.renamed
    ? `${plan.renamed.destination} exists now, so resume with the source written ${plan.renamed.source}/ ` +
      `(its contents into ${plan.renamed.destination}): rmm cp -r ${plan.renamed.source}/ ${plan.renamed.destination}`
    : "run the same command again to resume";
  return new CliError(`interrupted: what arrived is kept; ${resume}`, ExitCode.Interrupted);
}
