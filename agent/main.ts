#!/usr/bin/env node
import { arch, hostname, platform } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { labelsProblem, parseLabelFlag } from "../common/labels.js";
import { createLogger } from "../common/logger.js";
import { Agent, DEFAULT_CHANNELS } from "./agent.js";
import { channelSet, DISABLEABLE_CHANNELS, type DisableableChannel } from "./channels/channel-set.js";
import { fileChannel } from "./channels/file-channel.js";
import { FileRoots } from "./files/file-roots.js";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { defaultStatePath, readState, writeState } from "./state-file.js";

/** Reported to the server in hello and at enrollment. */
export const AGENT_VERSION = "0.1.0";

const info = () => ({ hostname: hostname(), os: `${platform()} ${arch()}`, agentVersion: AGENT_VERSION });

const program = new Command("rmm-agent")
  .description("RMM endpoint agent: one persistent stream to the server, tunnels on demand")
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
        info: {
          $typeName: "rmm.v1.AgentInfo",
          ...info(),
          capabilities: [...DEFAULT_CHANNELS.keys()],
          labels: {},
          jobSteps: true,
        },
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
  .option(
    "--label <key=value>",
    "report this label (Kubernetes syntax; repeatable; adds to and overrides the state file's labels)",
    (v: string, all: Record<string, string>) => {
      try {
        const [key, value] = parseLabelFlag(v);
        return { ...all, [key]: value };
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    },
    {} as Record<string, string>,
  )
  .action(
    async (flags: {
      state: string;
      disableChannel?: DisableableChannel[];
      fileRoot: string[];
      label: Record<string, string>;
    }) => {
      const state = readState(flags.state);
      const labels = { ...state.labels, ...flags.label };
      const problem = labelsProblem(labels);
      if (problem) throw new Error(`labels: ${problem}`);
      const fileRoots = new FileRoots(flags.fileRoot, [flags.state]);
      const { factories, capabilities } = channelSet(
        new Map([...DEFAULT_CHANNELS, [ChannelType.FILE, fileChannel(fileRoots)]]),
        flags.disableChannel ?? [],
      );
      const log = createLogger("rmm-agent");
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
        labels,
      }).run(stop.signal);
      transport.close();
    },
  );

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`rmm-agent: ${message}\n`);
  process.exit(1);
});
