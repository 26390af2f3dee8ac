import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { DEFAULT_WINDOW_BYTES, ReceiveWindow, SendWindow } from "../../common/credit-window.js";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import {
  OpenChannelRequestSchema,
  type ExecRequest,
  type ExecResponseSchema,
  type OpenChannelRequest,
} from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { CommandSupervisor, SupervisedChannel } from "../services/command-supervisor.js";
import { technicianOf } from "./technician-of.js";

type ExecResponseInit = MessageInitShape<typeof ExecResponseSchema>;
type RequestKind = NonNullable<MessageInitShape<typeof OpenChannelRequestSchema>["kind"]>;

/** Largest stdin chunk sent to the agent. 64 KiB, like every other tunnel chunk. */
const STDIN_CHUNK_BYTES = 64 * 1024;

/**
 * TunnelService.Exec: the server opens an exec channel to the agent on the
 * technician's behalf (through the same policy and audit gate as OpenChannel)
 * and streams what it produces. Credit goes back to the agent only once a
 * response has been handed to the transport, so a slow reader slows the
 * program; cancelling the call ends the process tree.
 */
export async function* serveExec(
  supervisor: CommandSupervisor,
  req: ExecRequest,
  ctx: HandlerContext,
): AsyncGenerator<ExecResponseInit> {
  const tech = technicianOf(ctx);
  if (!req.params) throw new ConnectError("params is required: set argv or shell_command", Code.InvalidArgument);
  const supervised = await supervisor.open(tech, {
    sessionId: req.sessionId,
    type: ChannelType.EXEC,
    initialCredit: DEFAULT_WINDOW_BYTES,
    params: { case: "exec", value: req.params },
  });
  const { channel } = supervised;
  const send = (kind: RequestKind) =>
    supervised.fromTechnician(create(OpenChannelRequestSchema, { kind }) as OpenChannelRequest);
  const onAbort = () => channel.end(Code.Canceled, "Exec call cancelled by the technician", true);
  ctx.signal.addEventListener("abort", onAbort);
  const stdinCredit = new SendWindow(0);
  const receiveWindow = new ReceiveWindow(DEFAULT_WINDOW_BYTES);
  void writeStdin(supervised, req.stdin, stdinCredit, ctx.signal, send);
  let started = false;
  try {
    for await (const res of supervised.responses) {
      const kind = res.kind;
      switch (kind.case) {
        case "credit":
          stdinCredit.grant(kind.value.bytes);
          break;
        case "info":
          if (kind.value.kind.case === "execStarted" && !started) {
            started = true;
            yield { kind: { case: "started", value: kind.value.kind.value } };
          }
          break;
        case "data": {
          yield { kind: { case: "output", value: { stream: kind.value.stream, data: kind.value.data } } };
          const grant = receiveWindow.processed(kind.value.data.length);
          if (grant > 0) send({ case: "credit", value: { bytes: grant } });
          break;
        }
        case "close":
          if (kind.value.exit) {
            yield { kind: { case: "exit", value: kind.value.exit } };
            return;
          }
          throw new ConnectError(
            kind.value.message || "the exec channel ended without an exit status",
            (kind.value.code || Code.Unknown) as Code,
          );
        default:
          break;
      }
    }
    throw new ConnectError("the exec channel ended without an exit status", Code.Unavailable);
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    stdinCredit.cancel();
    if (!channel.isEnded) channel.end(Code.Canceled, "Exec call ended", true);
  }
}

/** Sends the request's stdin under the agent's credit, then eof (at once when there is none). */
async function writeStdin(
  supervised: SupervisedChannel,
  stdin: Uint8Array,
  credit: SendWindow,
  signal: AbortSignal,
  send: (kind: RequestKind) => void,
): Promise<void> {
  for (let offset = 0; offset < stdin.length;) {
    await credit.ready(signal);
    if (signal.aborted || supervised.channel.isEnded) return;
    const n = credit.take(Math.min(STDIN_CHUNK_BYTES, stdin.length - offset));
    send({ case: "data", value: { data: stdin.subarray(offset, offset + n) } });
    offset += n;
  }
  if (!supervised.channel.isEnded) send({ case: "eof", value: {} });
}
