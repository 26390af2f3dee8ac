import type { Writable } from "node:stream";
import type { Command } from "commander";
import { JobState, type Job } from "../../gen/rmm/v1/job_service_pb.js";
import type { StepOutput } from "../../gen/rmm/v1/job_step_pb.js";
import { resolveAgent } from "../agent-resolver.js";
import { cliContext } from "../cli-context.js";
import { jobsClient } from "../jobs-client.js";
import { formatTime, printJson, table } from "../output-format.js";
import { followJob, jobExitStatus, stepJson, stepTable, totalsLine } from "../job-view.js";
import { printResult } from "./run-command.js";
import { writeWithBackpressure } from "../stream-output.js";

const JOB_STATE: Record<JobState, string> = {
  [JobState.UNSPECIFIED]: "?",
  [JobState.RUNNING]: "running",
  [JobState.FINISHED]: "finished",
  [JobState.CANCELLED]: "cancelled",
};

function commandOf(job: Job): string {
  const p = job.params;
  const line = p?.shellCommand ? `${p.shellCommand.shell} -c ${p.shellCommand.commandLine}` : (p?.argv ?? []).join(" ");
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

export function registerJobs(program: Command): void {
  program
    .command("jobs")
    .description("list jobs, newest first: id, created, creator, command, state, progress")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "machine-readable output")
    .action(async (flags: { limit: string; json?: boolean }) => {
      const { jobs } = await jobsClient(cliContext()).listJobs({ pageSize: Math.max(1, Number(flags.limit) || 50) });
      if (flags.json)
        return printJson(
          jobs.map((j) => ({
            id: j.id,
            creator: j.creator,
            command: commandOf(j),
            state: JOB_STATE[j.state],
            totals: j.totals,
          })),
        );
      process.stdout.write(
        table(
          ["ID", "CREATED", "CREATOR", "COMMAND", "STATE", "DONE", "NOT OK"],
          jobs.map((j) => {
            const t = j.totals!;
            const notOk = t.failed + t.error + t.timedOut + t.cancelled + t.expired;
            return [
              j.id,
              formatTime(j.createTime),
              j.creator,
              commandOf(j),
              JOB_STATE[j.state],
              `${t.total - t.pending - t.running}/${t.total}`,
              String(notOk),
            ];
          }),
        ),
      );
    });

  const job = program.command("job").description("one job: show, watch or cancel it");
  job
    .command("show")
    .argument("<id>", "job id")
    .description("the job's steps (agent, state, exit, duration, first line of output), or one agent's output")
    .option("--output <agent>", "print this agent's kept output (first and last 64 KiB of stdout and stderr)")
    .option("--json", "one JSON object per agent, one per line")
    .action(async (id: string, flags: { output?: string; json?: boolean }) => {
      const ctx = cliContext();
      if (flags.output !== undefined) {
        const agent = await resolveAgent(ctx.client, flags.output);
        const out = await jobsClient(ctx).getJobStepOutput({ jobId: id, agentId: agent.id });
        await writeKept(process.stdout, out.stdout);
        await writeKept(process.stderr, out.stderr);
        return;
      }
      const { job: j, steps } = await jobsClient(ctx).getJob({ jobId: id });
      if (flags.json) {
        for (const s of steps) process.stdout.write(JSON.stringify(stepJson(s)) + "\n");
        return;
      }
      process.stdout.write(`${commandOf(j!)}  (${JOB_STATE[j!.state]}, by ${j!.creator})\n`);
      process.stdout.write(stepTable(steps));
      process.stdout.write(totalsLine(j));
    });
  job
    .command("watch")
    .argument("<id>", "job id")
    .description("follow a job to its end (a snapshot first, so a late watch sees everything), then print its table")
    .option("--json", "one JSON object per agent, one per line")
    .action(async (id: string, flags: { json?: boolean }) => {
      const result = await followJob(jobsClient(cliContext()), id);
      printResult(result, flags.json ?? false);
      process.exitCode = jobExitStatus(result.steps);
    });
  job
    .command("cancel")
    .argument("<id>", "job id")
    .description("cancel a job: pending steps never run, running ones are ended")
    .action(async (id: string) => {
      const { job: j } = await jobsClient(cliContext()).cancelJob({ jobId: id });
      process.stdout.write(totalsLine(j));
    });
}

/** Head, a marker saying how much was cut, then tail. */
async function writeKept(out: Writable, kept: StepOutput | undefined): Promise<void> {
  if (!kept) return;
  await writeWithBackpressure(out, kept.head);
  const cut = kept.totalBytes - BigInt(kept.head.length + kept.tail.length);
  if (kept.truncated) await writeWithBackpressure(out, Buffer.from(`\n[... ${cut} bytes not kept ...]\n`));
  await writeWithBackpressure(out, kept.tail);
}
