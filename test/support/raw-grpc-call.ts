import * as http2 from "node:http2";

/** A gRPC envelope around `message` (flags byte, 4-byte big-endian length). */
export function grpcEnvelope(message: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

export interface RawGrpcAnswer {
  status: number;
  contentType: string | undefined;
  grpcStatus: number;
  grpcMessage: string;
  /** Every trailer (or, for a trailers-only answer, every gRPC header) except the HTTP/2 pseudo-headers and date. */
  trailers: Record<string, string>;
  body: Buffer;
}

export interface RawGrpcCall {
  /** `/package.Service/Method` */
  path: string;
  /** Sent as `authorization: Bearer <token>`. */
  token: string;
  /** The request body exactly as written on the wire. */
  body: Uint8Array;
  /** Extra or overriding request headers. */
  headers?: http2.OutgoingHttpHeaders;
  /** False: the request side is never ended (a caller that stalls mid-message). Defaults to true. */
  endRequest?: boolean;
}

/** One gRPC call written by hand, so a test can send what a broken or hostile client would. */
export async function rawGrpcCall(url: string, call: RawGrpcCall): Promise<RawGrpcAnswer> {
  // Node counts a request body still queued to send against the session's memory (10 MB by default) and
  // resets the stream with ENHANCE_YOUR_CALM past it: the 1 MB-per-string-field requests reach 12 MB.
  const session = http2.connect(url, { maxSessionMemory: 64 });
  try {
    return await new Promise<RawGrpcAnswer>((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": call.path,
        "content-type": "application/grpc+proto",
        te: "trailers",
        authorization: `Bearer ${call.token}`,
        ...call.headers,
      });
      const chunks: Buffer[] = [];
      let status = 0;
      let contentType: string | undefined;
      let trailers: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => {
        status = Number(h[":status"]);
        contentType = h["content-type"] as string | undefined;
        // A trailers-only answer carries its status in the headers.
        if (h["grpc-status"] !== undefined) trailers = h;
      });
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () =>
        resolve({
          status,
          contentType,
          grpcStatus: Number(trailers["grpc-status"]),
          grpcMessage: decodeURIComponent(String(trailers["grpc-message"] ?? "")),
          trailers: Object.fromEntries(
            Object.entries(trailers)
              .filter(([k]) => !k.startsWith(":") && k !== "date")
              .map(([k, v]) => [k, String(v)]),
          ),
          body: Buffer.concat(chunks),
        }),
      );
      if (call.endRequest === false) req.write(call.body);
      else req.end(call.body);
    });
  } finally {
    session.close();
  }
}
