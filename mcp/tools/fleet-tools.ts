import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Client } from "@connectrpc/connect";
import { z } from "zod";
import { JobState, StepState, type JobService, type JobStep } from "../../gen/rmm/v1/job_service_pb.js";
import { agentIdOf } from "../agent-lookup.js";
import { defineTool, type ToolExtra } from "../define-tool.js";
import type { McpToolAccess } from "../mcp-tool-access.js";
import { ToolError } from "../tool-error.js";
import type { ToolContext } from "../tool-context.js";
import { DEFAULT_WAIT_SECONDS, envSchema, shellCommandSchema, waitSchema } from "./command-tools.js";
import { MAX_SELECTOR_CHARS } from "./list-agents-tool.js";

/** Steps listed in one answer; the rest are counted in the totals. Defaults to 100: a fleet of thousands would drown the answer. */
export const MAX_LISTED_STEPS = 100;
/** The server's limits (job_service.proto): a step's run time, how long offline agents are waited for, steps at once. */
const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
const MAX_EXPIRE_SECONDS = 30 * 24 * 3600;
const MAX_CONCURRENCY = 1000;
/** Agents named one by one; more go through a selector. */
const MAX_NAMED_AGENTS = 1000;

type StepStateName = Lowercase<Exclude<keyof typeof StepState, "UNSPECIFIED">>;
/** The contract's step states by name (pending, running, ...), read from the generated enum so they cannot drift. */
const STEP_STATES = Object.keys(StepState)
  .filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED")
  .map((k) => k.toLowerCase()) as [StepStateName, ...StepStateName[]];

const jobResultSchema = z.object({
  job_id: z.string().describe("names the job in get_job (and in rmm job watch)"),
  state: z.enum(["running", "finished", "cancelled"]),
  command: z.string(),
  selector: z.string().nullable(),
  totals: z.object({
    total: z.number().int(),
    pending: z.number().int().describe("waiting: agent offline or busy, or the job at its concurrency"),
    running: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int().describe("a non-zero exit code or a signal"),
    error: z.number().int().describe("could not run: refused by policy, program not found, agent gone"),
    timed_out: z.number().int(),
    cancelled: z.number().int(),
    expired: z.number().int().describe("the agent stayed offline past expire_seconds"),
  }),
  steps: z
    .array(
      z.object({
        agent_id: z.string(),
        hostname: z.string(),
        state: z.enum(STEP_STATES),
        exit_code: z.number().int().nullable(),
        signal: z.string().nullable(),
        first_line: z.string().nullable().describe("first line of stdout (or stderr), at most 200 characters"),
        reason: z.string().nullable().describe("why it is in this state: the refusal, the error, what it waits for"),
      }),
    )
    .describe(`per agent, those that did not succeed first; at most ${MAX_LISTED_STEPS}`),
  steps_not_listed: z.number().int().describe("steps left out of steps (see totals)"),
});
type JobResult = z.infer<typeof jobResultSchema>;

const JOB_WAIT = "for the job to finish before returning where it is";

const seconds = (s: number) => ({ seconds: BigInt(Math.floor(s)), nanos: Math.round((s % 1) * 1e9) });

export function registerFleetTools(server: McpServer, access: McpToolAccess, ctx: ToolContext): void {
  defineTool(server, access, {
    name: "run_on_fleet",
    title: "Run a command on many agents",
    description: `Run one program on every agent matching a label selector and/or on named agents, as a job the server runs: each step passes the command policy and is audited; offline agents run it when they return (until expire_seconds). Give argv (no shell) or shell_command with an explicit shell. Waits up to wait_seconds (default ${DEFAULT_WAIT_SECONDS}) and returns the job id with a per-agent summary; follow it with get_job.`,
    input: z.object({
      selector: z
        .string()
        .min(1)
        .max(MAX_SELECTOR_CHARS)
        .optional()
        .describe("Kubernetes label selector over the agents' labels (list_agents shows them), e.g. env=prod,role!=db"),
      agents: z
        .array(z.string().min(1).max(255))
        .max(MAX_NAMED_AGENTS)
        .optional()
        .describe("agent ids or hostnames; with a selector too, the union"),
      argv: z
        .array(z.string())
        .min(1)
        .optional()
        .describe('program and arguments, e.g. ["systemctl", "is-active", "nginx"]'),
      shell_command: shellCommandSchema,
      cwd: z.string().max(4096).optional().describe("working directory on the agents"),
      env: envSchema,
      stdin: z
        .string()
        .max(1 << 20)
        .optional()
        .describe("written to each program's stdin (a script for an interpreter)"),
      timeout_seconds: z
        .number()
        .positive()
        .max(MAX_TIMEOUT_SECONDS)
        .optional()
        .describe("per agent: the step is ended after this long (default 10 min)"),
      concurrency: z
        .number()
        .int()
        .min(1)
        .max(MAX_CONCURRENCY)
        .optional()
        .describe("steps running at once (default 50)"),
      expire_seconds: z
        .number()
        .min(0)
        .max(MAX_EXPIRE_SECONDS)
        .optional()
        .describe("how long offline agents are waited for (default 24 h; 0: online agents only)"),
      wait_seconds: waitSchema(DEFAULT_WAIT_SECONDS, JOB_WAIT),
    }),
    output: jobResultSchema,
    readOnly: false,
    destructive: true,
    async handler(args, extra) {
      if ((args.argv === undefined) === (args.shell_command === undefined))
        throw new ToolError("give exactly one of argv and shell_command");
      if (args.selector === undefined && (args.agents ?? []).length === 0)
        throw new ToolError("name the agents: a selector, agents (ids or hostnames), or both");
      const agentIds: string[] = [];
      for (const name of args.agents ?? []) agentIds.push(await agentIdOf(ctx.client, name));
      const { job } = await ctx.jobs.createJob({
        selector: args.selector ?? "",
        agentIds,
        params: {
          argv: args.argv ?? [],
          ...(args.shell_command && {
            shellCommand: { shell: args.shell_command.shell, commandLine: args.shell_command.command_line },
          }),
          workingDirectory: args.cwd ?? "",
          environment: args.env ?? {},
        },
        stdin: new TextEncoder().encode(args.stdin ?? ""),
        concurrency: args.concurrency ?? 0,
        ...(args.timeout_seconds !== undefined && { timeout: seconds(args.timeout_seconds) }),
        ...(args.expire_seconds !== undefined && { expireAfter: seconds(args.expire_seconds) }),
      });
      await waitForJob(ctx.jobs, job!.id, args.wait_seconds, extra);
      return jobResult(ctx.jobs, job!.id);
    },
  });

  defineTool(server, access, {
    name: "get_job",
    title: "Read a fleet job",
    description:
      "A job started by run_on_fleet (or rmm run): totals per state and, per agent, the state, exit code, first line of output and why it is in that state. Can wait for the job to finish.",
    input: z.object({
      job_id: z.string().min(1).max(64),
      wait_seconds: waitSchema(0, JOB_WAIT),
    }),
    output: jobResultSchema,
    readOnly: true,
    async handler(args, extra) {
      await waitForJob(ctx.jobs, args.job_id, args.wait_seconds, extra);
      return jobResult(ctx.jobs, args.job_id);
    },
  });
}

/**
 * Follows the job with WatchJob until it finished, `seconds` passed or the
 * MCP call was cancelled (the job goes on either way), sending a progress
 * notification per step change when the client asked for them.
 */
async function waitForJob(jobs: Client<typeof JobService>, jobId: string, seconds: number, extra: ToolExtra) {
  if (seconds <= 0) return;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), seconds * 1000);
  const onCancel = () => stop.abort();
  extra.signal.addEventListener("abort", onCancel, { once: true });
  const token = extra._meta?.progressToken;
  const steps = new Map<string, StepState>();
  let sent = 0;
  try {
    for await (const m of jobs.watchJob({ jobId }, { signal: stop.signal })) {
      if (m.kind.case === "snapshot") for (const s of m.kind.value.steps) steps.set(s.agentId, s.state);
      if (m.kind.case !== "step") continue;
      steps.set(m.kind.value.agentId, m.kind.value.state);
      if (token === undefined) continue;
      const done = [...steps.values()].filter((s) => s !== StepState.PENDING && s !== StepState.RUNNING).length;
      void extra
        .sendNotification({
          method: "notifications/progress",
          params: {
            progressToken: token,
            progress: ++sent,
            message: `job ${jobId}: ${done} of ${steps.size} agents done`,
          },
        })
        .catch(() => undefined);
    }
  } catch (err) {
    // Our own timer or the client's cancellation: stop waiting and report where the job is.
    if (!stop.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    extra.signal.removeEventListener("abort", onCancel);
  }
}

/** Listed first: what needs a look (did not succeed), then what is still going, then the successes. */
const LIST_ORDER: Record<StepState, number> = {
  [StepState.UNSPECIFIED]: 0,
  [StepState.ERROR]: 0,
  [StepState.FAILED]: 0,
  [StepState.TIMED_OUT]: 0,
  [StepState.EXPIRED]: 0,
  [StepState.CANCELLED]: 0,
  [StepState.RUNNING]: 1,
  [StepState.PENDING]: 1,
  [StepState.SUCCEEDED]: 2,
};

async function jobResult(jobs: Client<typeof JobService>, jobId: string): Promise<JobResult> {
  const { job, steps } = await jobs.getJob({ jobId });
  const t = job!.totals;
  const params = job!.params;
  const listed = [...steps].sort((a, b) => LIST_ORDER[a.state] - LIST_ORDER[b.state]).slice(0, MAX_LISTED_STEPS);
  return {
    job_id: job!.id,
    state: job!.state === JobState.CANCELLED ? "cancelled" : job!.state === JobState.FINISHED ? "finished" : "running",
    command: params?.shellCommand
      ? `${params.shellCommand.shell}: ${params.shellCommand.commandLine}`
      : (params?.argv ?? []).join(" "),
    selector: job!.selector || null,
    totals: {
      total: t?.total ?? 0,
      pending: t?.pending ?? 0,
      running: t?.running ?? 0,
      succeeded: t?.succeeded ?? 0,
      failed: t?.failed ?? 0,
      error: t?.error ?? 0,
      timed_out: t?.timedOut ?? 0,
      cancelled: t?.cancelled ?? 0,
      expired: t?.expired ?? 0,
    },
    steps: listed.map(stepOf),
    steps_not_listed: steps.length - listed.length,
  };
}

function stepOf(s: JobStep): JobResult["steps"][number] {
  const name = (StepState[s.state] ?? "").toLowerCase();
  return {
    agent_id: s.agentId,
    hostname: s.hostname,
    // UNSPECIFIED never leaves the server; read as pending if it did.
    state: (STEP_STATES as readonly string[]).includes(name) ? (name as StepStateName) : "pending",
    exit_code: s.exitCode ?? null,
    signal: s.signal || null,
    first_line: s.firstLine || null,
    reason: s.reason || null,
  };
}
