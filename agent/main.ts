#!/usr/bin/env node
import { arch, hostname, platform } from "node:os";
import { RMM_VERSION } from "../common/version.js";
import { dirname, join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { createLogger } from "../common/logger.js";
import { Agent, DEFAULT_CHANNELS } from "./agent.js";
import { channelSet, DISABLEABLE_CHANNELS, type DisableableChannel } from "./channels/channel-set.js";
import { fileChannel } from "./channels/file-channel.js";
import { FileRoots } from "./files/file-roots.js";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { PROCESS_GROUPS_FILE, ProcessGroupLedger } from "./process/process-group-ledger.js";
import { recordProcessGroupsIn } from "./process/process-tree.js";
import { defaultStatePath, readState, writeState } from "./state-file.js";

/** Reported to the server in hello and at enrollment. */
export const AGENT_VERSION = RMM_VERSION;

const info = () => ({ hostname: hostname(), os: `${platform()} ${arch()}`, agentVersion: AGENT_VERSION });

const program = new Command("rmm-agent")
  .description("RMM endpoint agent: one persistent stream to the server, tunnels on demand")
  .version(RMM_VERSION)
  .showHelpAfterError();

program
  .command("enroll")
  .description("exchange an enrollment token for this endpoint's own identity, stored in the state file (mode 0600)")
  .requiredOption("--server <url>", "server URL: https://host:port (http:// for cleartext)")
  .requiredOption("--token <token>", "enrollment token from `rmm-server enroll-token`")
  .option("--state <path>", "state file", defaultStatePath())
  .option("--ca <file>", "PEM CA certificate that signs the server's certificate")
  .addHelpText(
    "after",
    "\nExample:\n  rmm-agent enroll --server https://rmm.example.com:7443 --token eyJ... --ca /etc/rmm/ca.pem",
  )
  .action(async (flags: { server: string; token: string; state: string; ca?: string }) => {
    const transport = createGrpcTransport(flags.server, flags.ca ? { caFile: flags.ca } : {});
    try {
      const res = await transport.enroll({
        $typeName: "rmm.v1.EnrollRequest",
        enrollmentToken: flags.token,
        info: { $typeName: "rmm.v1.AgentInfo", ...info(), capabilities: [...DEFAULT_CHANNELS.keys()] },
      });
      writeState(flags.state, {
        server: flags.server,
        agentId: res.agentId,
        credential: res.credential,
        ...(flags.ca ? { caFile: flags.ca } : {}),
      });
      process.stdout.write(`enrolled as ${res.agentId}; state in ${flags.state}\n`);
    } finally {
      transport.close();
    }
  });

program
  .command("run")
  .description("connect to the server and serve until stopped (SIGINT/SIGTERM)")
  .option("--state <path>", "state file", defaultStatePath())
  .addOption(
    new Option(
      "--disable-channel <type>",
      `refuse this channel type whatever the server allows: ${Object.keys(DISABLEABLE_CHANNELS).join(", ")} (repeatable)`,
    ).argParser((v: string, all: DisableableChannel[] = []) => {
      if (!(v in DISABLEABLE_CHANNELS))
        throw new InvalidArgumentError(`choose one of ${Object.keys(DISABLEABLE_CHANNELS).join(", ")}`);
      return [...all, v as DisableableChannel];
    }),
  )
  .option(
    "--file-root <dir>",
    "allow file transfer and browsing only under this directory (repeatable; default: the whole filesystem)",
    (dir: string, all: string[]) => [...all, dir],
    [] as string[],
  )
  .action(async (flags: { state: string; disableChannel?: DisableableChannel[]; fileRoot: string[] }) => {
    const state = readState(flags.state);
    const fileRoots = new FileRoots(flags.fileRoot, [flags.state]);
    const { factories, capabilities } = channelSet(
      new Map([...DEFAULT_CHANNELS, [ChannelType.FILE, fileChannel(fileRoots)]]),
      flags.disableChannel ?? [],
    );
    const log = createLogger("rmm-agent");
    // Commands a previous run left running (it was killed outright) end before anything new starts.
    const groups = new ProcessGroupLedger(join(dirname(flags.state), PROCESS_GROUPS_FILE), log);
    groups.endLeftovers();
    recordProcessGroupsIn(groups);
    const transport = createGrpcTransport(state.server, state.caFile ? { caFile: state.caFile } : {});
    const stop = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());
    log.info({ agentId: state.agentId, server: state.server, fileRoots: fileRoots.allowed }, "rmm-agent starting");
    await new Agent({
      agentId: state.agentId,
      credential: state.credential,
      info: info(),
      transport,
      log,
      channels: factories,
      capabilities,
    }).run(stop.signal);
    transport.close();
  });

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`rmm-agent: ${message}\n`);
  process.exit(1);
});
