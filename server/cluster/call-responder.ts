import {
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  type DescService,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type Transport } from "@connectrpc/connect";
import type { Msg, NatsConnection, Subscription } from "nats";
import type { Logger } from "../../common/logger.js";
import { peerKey } from "../auth/peer.js";
import { callSubject, decodeJson, encodeJson, type CallAccept, type CallOpen } from "./call-envelope.js";
import { ROUTED_CALL_WINDOW_BYTES } from "./call-forwarder.js";
import { RemoteStream } from "./remote-stream.js";

export interface CallResponderOptions {
  nodeId: string;
  maxMessageBytes: number;
  /** The services other nodes may route here. */
  services: readonly DescService[];
  /**
   * Runs a call on this node's own handlers, through the same interceptors as
   * a call from the network (auth, policy, audit), and never routes it again.
   */
  transport: Transport;
  log: Logger;
}

/**
 * The serving side of routed calls: takes calls other nodes forward here
 * (this node holds the agent's stream) and runs each through this node's own
 * handlers, its messages carried both ways by a RemoteStream.
 */
export class CallResponder {
  private subscription: Subscription | undefined;
  private readonly live = new Set<RemoteStream>();

  constructor(private readonly opts: CallResponderOptions) {}

  /** (Re)subscribes on a connection; called on every connect to NATS. */
  listen(nc: NatsConnection): void {
    this.subscription?.unsubscribe();
    this.subscription = nc.subscribe(callSubject(this.opts.nodeId), {
      callback: (err, msg) => {
        if (err) this.opts.log.warn({ err: err.message }, "cluster: call subscription failed");
        else this.accept(nc, msg);
      },
    });
  }

  /** The link went down: every routed call is cut (its messages may have been lost). */
  linkDown(): void {
    for (const s of this.live)
      s.abandon({ code: Code.Unavailable, message: "the cluster link (NATS) went down during the call" });
  }

  get size(): number {
    return this.live.size;
  }

  private accept(nc: NatsConnection, msg: Msg): void {
    let open: CallOpen;
    let method: DescMethod;
    try {
      open = decodeJson<CallOpen>(msg.data, "call open");
      const service = this.opts.services.find((s) => s.typeName === open.service);
      const found = service?.methods.find((m) => m.name === open.method);
      if (!found)
        throw new ConnectError(`${open.service}/${open.method} is not routed between nodes`, Code.Unimplemented);
      method = found;
    } catch (err) {
      const e = ConnectError.from(err);
      msg.respond(encodeJson({ code: e.code, message: e.rawMessage } satisfies CallAccept));
      return;
    }
    const stream = new RemoteStream(nc, {
      windowBytes: ROUTED_CALL_WINDOW_BYTES,
      maxMessageBytes: this.opts.maxMessageBytes,
      peerName: `node ${open.from}`,
    });
    stream.attach(open.inbox, open.windowBytes);
    this.live.add(stream);
    const abort = new AbortController();
    stream.onEnd((end, byPeer) => {
      this.live.delete(stream);
      if (byPeer || end.code !== 0) abort.abort(new ConnectError(end.message, end.code as Code));
    });
    msg.respond(encodeJson({ inbox: stream.inbox, windowBytes: ROUTED_CALL_WINDOW_BYTES } satisfies CallAccept));
    void this.run(method, open, stream, abort.signal);
  }

  private async run(method: DescMethod, open: CallOpen, stream: RemoteStream, signal: AbortSignal): Promise<void> {
    const { transport } = this.opts;
    const input = decoded(method.input, stream.messages());
    const timeoutMs = open.timeoutMs > 0 ? open.timeoutMs : undefined;
    const values = createContextValues().set(peerKey, `${open.peer} via node ${open.from}`);
    try {
      if (method.methodKind === "unary") {
        const first = await firstOf(input, method.name);
        const res = await transport.unary(method as DescMethodUnary, signal, timeoutMs, open.headers, first, values);
        await stream.write(toBinary(method.output, res.message));
      } else {
        const requests = method.methodKind === "server_streaming" ? once(await firstOf(input, method.name)) : input;
        const res = await transport.stream(
          method as DescMethodStreaming,
          signal,
          timeoutMs,
          open.headers,
          requests,
          values,
        );
        for await (const m of res.message) await stream.write(toBinary(method.output, m));
      }
      stream.end({ code: 0, message: "" });
    } catch (err) {
      const e = ConnectError.from(err);
      stream.end({ code: e.code, message: e.rawMessage });
    }
  }
}

async function* decoded<I extends DescMessage>(desc: I, messages: AsyncIterable<Uint8Array>) {
  for await (const bytes of messages) yield fromBinary(desc, bytes);
}

async function firstOf<T>(input: AsyncIterable<T>, method: string): Promise<T> {
  for await (const m of input) return m;
  throw new ConnectError(`routed ${method} call carried no request`, Code.Internal);
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}
