import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { openRecording } from "../../client/recording-stream.js";
import type { Recording } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { AsciicastError, playAsciicast } from "../../common/asciicast-player.js";
import { cliContext } from "../cli-context.js";
import { CliError, ExitCode, usage } from "../cli-error.js";
import { agentIdOf, parseLimit, parseTimeBound } from "../history-flags.js";
import { formatBytes, formatTime } from "../output-format.js";
import { outputFormat, printListing, withOutputOption, type OutputFlags } from "../output-option.js";

interface ListFlags extends OutputFlags {
  since?: string;
  until?: string;
  agent?: string;
  tech?: string;
  session?: string;
  limit: string;
}

const iso = (ts: Timestamp | undefined) => (ts ? timestampDate(ts).toISOString() : null);

/** A recording id as the server numbers them: a whole number from 1. */
export function parseRecordingId(value: string): bigint {
  if (!/^[1-9]\d{0,17}$/.test(value))
    throw new Error(`${value} is not a recording id (a whole number, the ID column of rmm recordings ls)`);
  return BigInt(value);
}

function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} ${value} is not a positive number`);
  return n;
}

export function registerRecordings(program: Command): void {
  const recordings = program
    .command("recordings")
    .description("terminal recordings of rmm shell sessions: list, download, replay (yours; admins: all)");

  withOutputOption(recordings.command("ls"))
    .description("recordings, newest first")
    .option("--since <when>", "terminals opened since a duration ago (1h, 2d) or an ISO time")
    .option("--until <when>", "terminals opened before a duration ago or an ISO time")
    .option("--agent <agent>", "terminals on this agent (id, id prefix or hostname)")
    .option("--tech <subject>", "terminals of this technician (admins; yours by default)")
    .option("--session <id>", "terminals of one tunnel session (rmm sessions)")
    .option("--limit <n>", "at most this many recordings", "100")
    .addHelpText("after", "\nExamples:\n  rmm recordings ls --since 1d\n  rmm recordings ls --agent web-01 -o wide")
    .action(async (flags: ListFlags) => {
      const ctx = cliContext();
      const limit = usage(() => parseLimit(flags.limit));
      const since = flags.since === undefined ? undefined : usage(() => parseTimeBound(flags.since!, "--since"));
      const until = flags.until === undefined ? undefined : usage(() => parseTimeBound(flags.until!, "--until"));
      const agentId = flags.agent === undefined ? "" : await agentIdOf(ctx.client, flags.agent);
      const found: Recording[] = [];
      let pageToken = "";
      do {
        const page = await ctx.client.listRecordings({
          agentId,
          technician: flags.tech ?? "",
          sessionId: flags.session ?? "",
          ...(since !== undefined && { since: timestampFromMs(since) }),
          ...(until !== undefined && { until: timestampFromMs(until) }),
          pageSize: Math.min(limit - found.length, 1000),
          pageToken,
        });
        found.push(...page.recordings);
        pageToken = page.nextPageToken;
      } while (pageToken && found.length < limit);
      printListing(outputFormat(flags), found, {
        columns: [
          { header: "ID", cell: (r) => String(r.id) },
          { header: "AGENT", cell: (r) => r.agentId },
          { header: "TECHNICIAN", cell: (r) => r.technician },
          { header: "STARTED", cell: (r) => formatTime(r.startTime) },
          { header: "ENDED", cell: (r) => formatTime(r.endTime) },
          { header: "SIZE", cell: (r) => formatBytes(Number(r.sizeBytes)) },
          { header: "OUTCOME", cell: (r) => r.outcome },
          { header: "SESSION", cell: (r) => r.sessionId, wide: true },
          { header: "SHELL", cell: (r) => r.shell || "-", wide: true },
        ],
        record: (r) => ({
          id: Number(r.id),
          agentId: r.agentId,
          technician: r.technician,
          sessionId: r.sessionId,
          channelId: r.channelId,
          shell: r.shell,
          startTime: iso(r.startTime),
          endTime: iso(r.endTime),
          outcome: r.outcome,
          sizeBytes: Number(r.sizeBytes),
        }),
      });
    });

  recordings
    .command("get")
    .description("download a recording's asciicast file (to FILE, or stdout when FILE is - or left out)")
    .argument("<id>", "the recording (ID in rmm recordings ls)")
    .argument("[file]", "where to write it; - is stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  rmm recordings get 42 web-01.cast\n  rmm recordings get 42 | asciinema play -",
    )
    .action(async (idArg: string, file: string | undefined) => {
      const id = usage(() => parseRecordingId(idArg));
      const ctx = cliContext();
      const { chunks } = await openRecording(ctx.client, id);
      if (file === undefined || file === "-") {
        await pipeline(Readable.from(chunks), process.stdout, { end: false });
        return;
      }
      // Written beside the target and renamed into place: a failed download never leaves half a file under its name.
      const partial = join(dirname(file), `.${basename(file)}.rmm-partial`);
      try {
        // Recordings hold whatever was typed, passwords included: owner-only, as the server keeps them.
        await pipeline(Readable.from(chunks), createWriteStream(partial, { mode: 0o600 }));
        await rename(partial, file);
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
    });

  recordings
    .command("play")
    .description("replay a recording in this terminal at the speed it was typed, like asciinema play")
    .argument("<id>", "the recording (ID in rmm recordings ls)")
    .option("--speed <n>", "playback rate: 2 is twice as fast, 0.5 half", "1")
    .option("--idle-limit <seconds>", "shorten pauses longer than this (default: the recording's own limit, if any)")
    .addHelpText("after", "\nExamples:\n  rmm recordings play 42\n  rmm recordings play 42 --speed 4 --idle-limit 1")
    .action(async (idArg: string, flags: { speed: string; idleLimit?: string }) => {
      const id = usage(() => parseRecordingId(idArg));
      const speed = usage(() => parsePositive(flags.speed, "--speed"));
      const idleLimit =
        flags.idleLimit === undefined ? undefined : usage(() => parsePositive(flags.idleLimit!, "--idle-limit"));
      const ctx = cliContext();
      const { chunks } = await openRecording(ctx.client, id);
      try {
        await playAsciicast(chunks, {
          speed,
          ...(idleLimit !== undefined && { idleLimitSeconds: idleLimit }),
          write: (text) =>
            new Promise<void>((done, fail) => process.stdout.write(text, (err) => (err ? fail(err) : done()))),
        });
      } catch (err) {
        if (err instanceof AsciicastError) throw new CliError(`recording ${id}: ${err.message}`, ExitCode.DataLoss);
        throw err;
      }
    });
}
