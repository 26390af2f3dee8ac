import { AGENT_NODE_OPTIONS } from "../agent-node-options.js";

/** The unit's name, and so `systemctl status rmm-agent`. */
export const AGENT_UNIT_NAME = "rmm-agent.service";
/** Where the packaged agent is copied. Defaults to /opt/rmm-agent (the executable and its PTY addon beside it). */
export const DEFAULT_PREFIX = "/opt/rmm-agent";
/** systemd's directory for units the administrator installs. */
export const DEFAULT_UNIT_DIR = "/etc/systemd/system";
/** `StateDirectory=rmm-agent` makes systemd create /var/lib/rmm-agent (mode 0700) before every start. */
export const STATE_DIRECTORY = "rmm-agent";
export const STATE_PATH = `/var/lib/${STATE_DIRECTORY}/state.json`;

export interface AgentUnitOptions {
  /** Absolute path of the installed executable. */
  executable: string;
  /** Extra `rmm-agent run` flags (--file-root, --disable-channel), each one argument. */
  runArgs?: readonly string[];
}

/**
 * The agent's systemd unit. It runs as root, because managing the machine is
 * its job, and is hardened only as far as that job allows:
 * - `NoNewPrivileges=yes`: nothing it starts gains privileges through setuid
 *   binaries or file capabilities (sudo and su in a technician's command fail;
 *   they are root already).
 * - `ProtectSystem=full`: /usr, /boot and /efi, and /etc, are read-only to it
 *   and its children. Not `strict`: uploads and commands must reach /srv, /var
 *   and /home. Relax it with a drop-in (`systemctl edit rmm-agent`) where
 *   technicians must write under /etc.
 * - `StateDirectory=`: systemd creates /var/lib/rmm-agent, mode 0700, the
 *   only state the agent keeps (its id and credential).
 * - `Restart=always` after 5 s, on top of the agent's own reconnect backoff,
 *   so a crash or an OOM kill brings it back; `KillMode=mixed` gives the agent
 *   SIGTERM first, so it ends its process groups and closes its stream.
 * - `NODE_OPTIONS`: the V8 heap sized for an agent (agent-node-options.ts).
 */
export function agentUnit(opts: AgentUnitOptions): string {
  const args = ["run", "--state", STATE_PATH, ...(opts.runArgs ?? [])];
  return `[Unit]
Description=RMM tunnel agent (one stream to the RMM server, tunnels on demand)
Documentation=https://github.com/rmm-tunnel/rmm-tunnel/blob/main/docs/deployment.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${[opts.executable, ...args].map(quoteArg).join(" ")}
Restart=always
RestartSec=5
KillMode=mixed
TimeoutStopSec=15
StateDirectory=${STATE_DIRECTORY}
StateDirectoryMode=0700
NoNewPrivileges=yes
ProtectSystem=full
ProtectControlGroups=yes
ProtectKernelModules=yes
Environment=RMM_LOG_FORMAT=json
Environment=${quoteArg(`NODE_OPTIONS=${AGENT_NODE_OPTIONS.join(" ")}`)}

[Install]
WantedBy=multi-user.target
`;
}

/** systemd's quoting: double quotes around anything with a space, quote, backslash, `%` or `$` escaped. */
export function quoteArg(arg: string): string {
  const escaped = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}
