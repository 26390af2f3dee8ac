import { create } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { MAX_TIMEOUT_MS, processSpecOf, type ProcessSpec } from "../../common/process-params.js";
import { ExecParamsSchema, type ExecParams } from "../../gen/rmm/v1/exec_pb.js";
import type { CreateJobRequest } from "../../gen/rmm/v1/job_service_pb.js";
import { LabelSelector } from "../labels/label-selector.js";
import { MAX_AUDIT_ARGV_BYTES } from "../services/command-supervisor.js";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_EXPIRE_AFTER_MS,
  DEFAULT_STEP_TIMEOUT_MS,
  MAX_CONCURRENCY,
  MAX_EXPIRE_AFTER_MS,
  MAX_JOB_AGENT_IDS,
  MAX_JOB_STDIN_BYTES,
} from "./job-defaults.js";

/** A CreateJob request, checked and with its defaults applied. */
export interface JobRequest {
  selector: LabelSelector;
  agentIds: string[];
  /** Without a timeout of its own: each step gets timeoutMs. */
  params: ExecParams;
  spec: ProcessSpec;
  stdin: Uint8Array;
  concurrency: number;
  timeoutMs: number;
  /** 0: online agents only. */
  expireAfterMs: number;
}

export function parseJobRequest(req: CreateJobRequest): JobRequest {
  const selector = LabelSelector.parse(req.selector);
  const agentIds = [...new Set(req.agentIds)];
  if (selector.isEmpty && agentIds.length === 0)
    throw invalid("name the target: a selector, agent_ids, or both (an empty selector would match every agent)");
  if (agentIds.length > MAX_JOB_AGENT_IDS) throw invalid(`at most ${MAX_JOB_AGENT_IDS} agent_ids per job`);
  for (const id of agentIds)
    if (id === "" || id.length > 64) throw invalid(`agent id "${id.slice(0, 64)}" is not an agent id`);
  if (!req.params) throw invalid("params is required: set argv or shell_command");
  const params = create(ExecParamsSchema, { ...req.params, timeout: undefined });
  const spec = processSpecOf(params);
  const argvBytes = Buffer.byteLength(JSON.stringify([spec.program, ...spec.args]));
  if (argvBytes > MAX_AUDIT_ARGV_BYTES)
    throw invalid(
      `argv is ${argvBytes} bytes as the audit trail stores it, over ${MAX_AUDIT_ARGV_BYTES}: send the data as stdin`,
    );
  if (req.stdin.length > MAX_JOB_STDIN_BYTES)
    throw invalid(`stdin is ${req.stdin.length} bytes, over the limit of ${MAX_JOB_STDIN_BYTES}`);
  const concurrency = req.concurrency === 0 ? DEFAULT_CONCURRENCY : req.concurrency;
  if (concurrency > MAX_CONCURRENCY) throw invalid(`concurrency may be at most ${MAX_CONCURRENCY}`);
  const timeoutMs = durationMs(req.timeout, "timeout") || DEFAULT_STEP_TIMEOUT_MS;
  if (timeoutMs > MAX_TIMEOUT_MS) throw invalid(`timeout may be at most ${MAX_TIMEOUT_MS / 3_600_000} hours`);
  const expireAfterMs =
    req.expireAfter === undefined ? DEFAULT_EXPIRE_AFTER_MS : durationMs(req.expireAfter, "expire_after");
  if (expireAfterMs > MAX_EXPIRE_AFTER_MS)
    throw invalid(`expire_after may be at most ${MAX_EXPIRE_AFTER_MS / 86_400_000} days`);
  return { selector, agentIds, params, spec, stdin: req.stdin, concurrency, timeoutMs, expireAfterMs };
}

export function durationMs(d: Duration | undefined, what: string): number {
  if (!d) return 0;
  const ms = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
  if (ms < 0 || d.nanos < 0) throw invalid(`${what} may not be negative`);
  return ms;
}

export function durationOf(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}
