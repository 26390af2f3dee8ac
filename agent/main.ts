#!/usr/bin/env node
import { platform } from "node:os";
import { RMM_VERSION } from "../common/version.js";
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { labelsProblem, parseLabelFlag } from "../common/labels.js";
import { createLogger } from "../common/logger.js";
import { Agent, DEFAULT_CHANNELS } from "./agent.js";
import { channelSet, DISABLEABLE_CHANNELS, type DisableableChannel } from "./channels/channel-set.js";
import { fileChannel } from "./channels/file-channel.js";
import { ForwardAllowList } from "./channels/forward-allow.js";
import { tcpChannel } from "./channels/tcp-channel.js";
import { FileRoots } from "./files/file-roots.js";
import { ChannelType } from "../gen/rmm/v1/frame_pb.js";
import { createGrpcTransport } from "./grpc-transport.js";
import { agentInfo } from "./agent-info.js";
import { enroll } from "./enroll.js";
import { packagedAgentDir } from "./install/packaged-agent.js";
import { installedStatePath, installService, uninstallService } from "./install/service-install.js";
import { DEFAULT_PREFIX, DEFAULT_UNIT_DIR } from "./install/systemd-unit.js";
import { PROCESS_GROUPS_FILE, ProcessGroupLedger } from "./process/process-group-ledger.js";
import { recordProcessGroupsIn } from "./process/process-tree.js";
import { defaultStatePath, readState } from "./state-file.js";

interface RunFlags {
  state: string;
  disableChannel?: DisableableChannel[];
  fileRoot: string[];
  forwardAllow: string[];
  label: Record<string, string>;
}

/** One `--label key=value` into the labels so far (a repeated key keeps the last value). */
function collectLabel(v: string, all: Record<string, string>): Record<string, string> {
  try {
    const [key, value] = parseLabelFlag(v);
    return { ...all, [key]: value };
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Labels for the state file, checked as a set (count, total size) before anything is enrolled. */
function checkedLabels(labels: Record<string, string>): Record<string, string> {
  const problem = labelsProblem(labels);
  if (problem) throw new Error(`labels: ${problem}`);
  return labels;
}

const STATE_LABEL_HELP =
  "a label the agent reports, kept in the state file (Kubernetes syntax; repeatable; `run --label` overrides it)";

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
  .option("--label <key=value>", STATE_LABEL_HELP, collectLabel, {} as Record<string, string>)
  .addHelpText(
    "after",
    "\nExample:\n  rmm-agent enroll --server https://rmm.example.com:7443 --token eyJ... --ca /etc/rmm/ca.pem --label site=berlin",
  )
  .action(
    async (flags: { server: string; token: string; state: string; ca?: string; label: Record<string, string> }) => {
      const { label, ...rest } = flags;
      const agentId = await enroll({ ...rest, labels: checkedLabels(label), info: agentInfo() });
      process.stdout.write(`enrolled as ${agentId}; state in ${flags.state}\n`);
    },
  );

program
  .command("install")
  .description("enroll, copy this packaged agent into place and register it as a systemd service (Linux; run as root)")
  .requiredOption("--server <url>", "server URL: https://host:port (http:// for cleartext)")
  .requiredOption("--token <token>", "enrollment token from `rmm-server enroll-token`")
  .option("--ca <file>", "PEM CA certificate that signs the server's certificate")
  .option("--label <key=value>", STATE_LABEL_HELP, collectLabel, {} as Record<string, string>)
  .option("--prefix <dir>", "where the agent is copied", DEFAULT_PREFIX)
  .option("--unit-dir <dir>", "where the systemd unit is written", DEFAULT_UNIT_DIR)
  .option("--root <dir>", "stage everything under this directory instead of / (systemctl is not run)", "/")
  .option(
    "--run-arg <arg>",
    "an extra `rmm-agent run` argument for the service, e.g. --run-arg=--file-root --run-arg=/srv (repeatable)",
    (arg: string, all: string[]) => [...all, arg],
    [] as string[],
  )
  .addHelpText(
    "after",
    "\nExample:\n  sudo ./rmm-agent install --server https://rmm.example.com:7443 --token eyJ... --ca /etc/rmm/ca.pem --label site=berlin",
  )
  .action(
    async (flags: {
      server: string;
      token: string;
      ca?: string;
      prefix: string;
      unitDir: string;
      root: string;
      runArg: string[];
      label: Record<string, string>;
    }) => {
      if (platform() !== "linux")
        throw new Error(
          `install registers a systemd service, which ${platform()} does not have: run \`rmm-agent enroll\` and \`rmm-agent run\` in the foreground, or see docs/deployment.md for this platform's service route`,
        );
      const packageDir = packagedAgentDir();
      if (packageDir === undefined)
        throw new Error(
          "install copies the packaged agent, and this one runs from a clone under node: build it with `npm run package:agent` and run install from the unpacked archive",
        );
      const labels = checkedLabels(flags.label);
      const paths = { root: flags.root, prefix: flags.prefix, unitDir: flags.unitDir };
      const statePath = installedStatePath(flags.root);
      // The service runs from another directory: a relative CA path would no longer name the file.
      const ca = flags.ca === undefined ? {} : { ca: resolve(flags.ca) };
      const agentId = await enroll({
        server: flags.server,
        token: flags.token,
        ...ca,
        state: statePath,
        labels,
        info: agentInfo(),
      });
      const result = installService(packageDir, paths, flags.runArg);
      process.stdout.write(
        `enrolled as ${agentId}; state in ${result.statePath}\ninstalled ${result.executable}\nwrote ${result.unitPath}\n`,
      );
      if (result.enabled) process.stdout.write("enabled and started rmm-agent.service\n");
      else process.stdout.write(`${result.note ?? "not enabled"}\n\n${result.unit}`);
    },
  );

program
  .command("uninstall")
  .description("stop and disable the service, remove its unit and the installed agent (--purge: its state too)")
  .option("--prefix <dir>", "where the agent was copied", DEFAULT_PREFIX)
  .option("--unit-dir <dir>", "where the systemd unit was written", DEFAULT_UNIT_DIR)
  .option("--root <dir>", "the directory install staged under", "/")
  .option("--purge", "also remove the state (the agent's id and credential); revoke it on the server too")
  .action((flags: { prefix: string; unitDir: string; root: string; purge?: boolean }) => {
    const removed = uninstallService(
      { root: flags.root, prefix: flags.prefix, unitDir: flags.unitDir },
      flags.purge === true,
    );
    process.stdout.write(removed.length > 0 ? removed.map((p) => `removed ${p}\n`).join("") : "nothing to remove\n");
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
    "--forward-allow <host:port>",
    "forward tcp channels only to targets matching these globs, e.g. localhost:3389 or 10.0.0.*:443 (repeatable; default: any target the server allows)",
    (spec: string, all: string[]) => {
      try {
        new ForwardAllowList([spec]);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      return [...all, spec];
    },
    [] as string[],
  )
  .option(
    "--label <key=value>",
    "report this label (Kubernetes syntax; repeatable; adds to and overrides the state file's labels)",
    collectLabel,
    {} as Record<string, string>,
  )
  .action(async (flags: RunFlags) => {
    const state = readState(flags.state);
    const labels = checkedLabels({ ...state.labels, ...flags.label });
    const fileRoots = new FileRoots(flags.fileRoot, [flags.state]);
    const { factories, capabilities } = channelSet(
      new Map([
        ...DEFAULT_CHANNELS,
        [ChannelType.FILE, fileChannel(fileRoots)],
        [ChannelType.TCP, tcpChannel({ allow: new ForwardAllowList(flags.forwardAllow) })],
      ]),
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
      info: agentInfo(),
      transport,
      log,
      channels: factories,
      capabilities,
      labels,
    }).run(stop.signal);
    transport.close();
    groups.close();
  });

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`rmm-agent: ${message}\n`);
  process.exit(1);
});
