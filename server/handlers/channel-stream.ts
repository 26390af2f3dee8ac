import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { MAX_TECHNICIAN_WINDOW_BYTES } from "../../common/credit-window.js";
import { FORWARD_WINDOW_BYTES } from "../../common/forward-target.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import type { OpenChannelRequest, OpenChannelResponse } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { ChannelRelay } from "../services/channel-relay.js";
import type { CommandSupervisor } from "../services/command-supervisor.js";
import type { ForwardSupervisor } from "../services/forward-supervisor.js";
import type { SessionService } from "../services/session-service.js";
import { CHANNEL_OK, type RelayedChannel } from "../services/relayed-channel.js";
import { oneShotSession } from "./one-shot-session.js";
import { technicianOf } from "./technician-of.js";

/**
 * TunnelService.OpenChannel: `open` first, then the technician's frames are
 * relayed as they arrive while the agent's are yielded. The call ends when
 * either side closes the channel; a caller that goes away closes it too.
 */
export async function* serveChannel(
  sessions: SessionService,
  relay: ChannelRelay,
  supervisor: CommandSupervisor,
  forwards: ForwardSupervisor,
  requests: AsyncIterable<OpenChannelRequest>,
  ctx: HandlerContext,
): AsyncGenerator<OpenChannelResponse> {
  const tech = technicianOf(ctx);
  const inbound = requests[Symbol.asyncIterator]();
  const first = await inbound.next();
  if (first.done) return;
  if (first.value.kind.case !== "open") {
    throw new ConnectError(
      `the first message must be open, got ${first.value.kind.case ?? "an empty message"}`,
      Code.InvalidArgument,
    );
  }
  if (first.value.kind.value.type === ChannelType.FILE) {
    throw new ConnectError(
      "file channels are opened by the server for Stat, ListDirectory, PrepareUpload, MakeDirectory, Upload and Download: call those instead",
      Code.InvalidArgument,
    );
  }
  // A forwarded TCP stream crosses real networks and keeps more in flight than a terminal or exec needs;
  // echo, the relay's own speed test, may keep as much in flight (see echo-channel.ts).
  const bulk = first.value.kind.value.type === ChannelType.TCP || first.value.kind.value.type === ChannelType.ECHO;
  const maxWindow = bulk ? FORWARD_WINDOW_BYTES : MAX_TECHNICIAN_WINDOW_BYTES;
  if (first.value.kind.value.initialCredit > maxWindow) {
    throw new ConnectError(
      `initial_credit may be at most ${maxWindow} bytes (the channel window), got ${first.value.kind.value.initialCredit}`,
      Code.InvalidArgument,
    );
  }
  await oneShotSession(sessions, tech, first.value.kind.value, ctx.signal);
  // Exec and terminal channels pass policy, audit and recording on the way; tcp channels the forward rules and audit.
  const gate = first.value.kind.value.type === ChannelType.TCP ? forwards : supervisor;
  const supervised = await gate.open(tech, first.value.kind.value);
  const { channel } = supervised;
  void (async () => {
    try {
      for (let next = await inbound.next(); !next.done; next = await inbound.next()) {
        if (!relay.checkSession(channel, tech)) return;
        supervised.fromTechnician(next.value);
      }
      // Half-close without a close message: the technician is done with the channel.
      channel.end(CHANNEL_OK, "technician ended the call", true);
    } catch (err) {
      channel.end(Code.Canceled, `technician call ended: ${ConnectError.from(err).rawMessage}`, true);
    }
  })();
  const onAbort = () => channel.end(Code.Canceled, "technician call cancelled", true);
  ctx.signal.addEventListener("abort", onAbort);
  try {
    yield* supervised.responses;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    endIfOpen(channel);
  }
}

function endIfOpen(channel: RelayedChannel): void {
  if (!channel.isEnded) channel.end(Code.Canceled, "technician call ended", true);
}
