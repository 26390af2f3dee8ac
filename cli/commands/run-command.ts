import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseDuration } from "../../common/duration.js";
import { resolveAgent } from "../agent-resolver.js";
import { cliContext } from "../cli-context.js";
import { jobsClient } from "../jobs-client.js";
import { CliError, ExitCode, usage } from "../cli-error.js";
import { followJob, jobExitStatus, stepJson, stepTable, totalsLine } from "../job-view.js";
import { parseEnv } from "./exec-command.js";

interface RunFlags {
  selector?: string;
  agent: string[];
  script?: string;
  shell?: string;
  cwd?: string;
  env: string[];
  concurrency?: string;
  timeout?: string;
  expire?: string;
  detach?: boolean;
  json?: boolean;
}

/** The interpreter a --script is fed to when no command is given. */
const DEFAULT_INTERPRETER = ["/bin/sh", "-s"];

export function registerRun(program: Command): void {
  program
    .command("run")
    .argument("[command...]", "program and arguments (after --); with --script, the interpreter (default /bin/sh -s)")
    .description(
      "run one command on many agents as a job: live progress, then one row per agent; agents that are offline run it when they return",
    )
    .option("-l, --selector <selector>", "agents whose labels match (env=prod,role!=db,tier in (web,api),!old)")
    .option(
      "--agent <id-or-hostname>",
      "this agent too (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--script <file>", "send this local file as stdin to the interpreter")
    .option("--shell <path>", "run the command line with this shell (e.g. /bin/sh -c LINE)")
    .option("--cwd <dir>", "working directory on the agents")
    .option(
      "--env <NAME=VALUE>",
      "environment variable (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--concurrency <n>", "steps running at once (default 50)")
    .option("--timeout <duration>", "per-agent time limit (default 10m)")
    .option("--expire <duration>", "how long offline agents may take to come back (default 24h; 0: online agents only)")
    .option("--detach", "print the job id and return at once (follow with rmm job watch ID)")
    .option("--json", "one JSON object per agent, one per line")
    .addHelpText(
      "after",
      "\nExits 0 when every agent succeeded, 1 when any did not.\n\nExamples:\n  rmm run -l env=prod -- systemctl is-active nginx\n  rmm run -l role=web --script fix.sh\n  rmm run --agent web-01 --agent web-02 --timeout 30s -- uptime",
    )
    .action(async (command: string[], flags: RunFlags) => {
      const ctx = cliContext();
      if (!flags.selector && flags.agent.length === 0)
        throw new CliError("name the agents: -l SELECTOR, --agent ID (repeatable), or both", ExitCode.Usage);
      const argv = command.length > 0 ? command : flags.script ? DEFAULT_INTERPRETER : [];
      if (argv.length === 0)
        throw new CliError("no command given: rmm run -l SELECTOR -- PROGRAM ARGS", ExitCode.Usage);
      const stdin = flags.script ? readFileSync(flags.script) : new Uint8Array();
      const ms = (v: string | undefined, what: string) =>
        v === undefined ? undefined : usage(() => parseDuration(v, what));
      const timeoutMs = ms(flags.timeout, "--timeout");
      const expireMs = flags.expire === "0" ? 0 : ms(flags.expire, "--expire");
      const concurrency = flags.concurrency === undefined ? 0 : Number(flags.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 0)
        throw new CliError(`--concurrency ${flags.concurrency} is not a whole number`, ExitCode.Usage);
      const agentIds: string[] = [];
      for (const name of flags.agent) agentIds.push((await resolveAgent(ctx.client, name)).id);
      const { job } = await jobsClient(ctx).createJob({
        selector: flags.selector ?? "",
        agentIds,
        params: {
          argv: flags.shell ? [] : argv,
          ...(flags.shell && { shellCommand: { shell: flags.shell, commandLine: argv.join(" ") } }),
          workingDirectory: flags.cwd ?? "",
          environment: parseEnv(flags.env),
        },
        stdin,
        concurrency,
        ...(timeoutMs !== undefined && { timeout: duration(timeoutMs) }),
        ...(expireMs !== undefined && { expireAfter: duration(expireMs) }),
      });
      if (flags.detach) {
        process.stdout.write(`${job!.id}\n`);
        return;
      }
      const onSignal = () => {
        process.stderr.write(
          `\nrmm: stopped watching; job ${job!.id} goes on (rmm job watch ${job!.id}, rmm job cancel ${job!.id})\n`,
        );
        process.exit(ExitCode.Interrupted);
      };
      process.once("SIGINT", onSignal);
      const result = await followJob(jobsClient(ctx), job!.id);
      process.off("SIGINT", onSignal);
      printResult(result, flags.json ?? false);
      process.exitCode = jobExitStatus(result.steps);
    });
}

export function printResult(result: Awaited<ReturnType<typeof followJob>>, json: boolean): void {
  if (json) {
    for (const s of result.steps) process.stdout.write(JSON.stringify(stepJson(s)) + "\n");
    return;
  }
  process.stdout.write(stepTable(result.steps));
  process.stdout.write(totalsLine(result.job));
}

function duration(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}
