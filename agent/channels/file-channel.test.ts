import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.js";
import { uploadPartialPath } from "../../common/partial-file.js";
import type { FileOperationSchema, UploadTargetSchema } from "../../gen/rmm/v1/file_pb.js";
import { ChannelType, TunnelFrameSchema, type ChannelClose, type ChannelInfo } from "../../gen/rmm/v1/frame_pb.js";
import { until } from "../../test/support/until.js";
import { FileRoots } from "../files/file-roots.js";
import { ChannelMux, type FrameInit } from "./channel-mux.js";
import { fileChannel } from "./file-channel.js";

type FileOperationInit = NonNullable<MessageInitShape<typeof FileOperationSchema>["kind"]>;
type UploadTargetInit = MessageInitShape<typeof UploadTargetSchema>;

function setup(root: string) {
  const sent: FrameInit[] = [];
  const mux = new ChannelMux(
    "s1",
    (f) => sent.push(f),
    new Map([[ChannelType.FILE, fileChannel(new FileRoots([root]))]]),
    createLogger("test", "silent"),
  );
  const sequences = new Map<number, bigint>();
  const frame = (channelId: number, payload: FrameInit["payload"]) => {
    const sequence = sequences.get(channelId) ?? 1n;
    sequences.set(channelId, sequence + 1n);
    mux.handle(create(TunnelFrameSchema, { sessionId: "s1", channelId, sequence, payload }));
  };
  const open = (channelId: number, kind: FileOperationInit) =>
    frame(channelId, {
      case: "open",
      value: { type: ChannelType.FILE, initialCredit: 1 << 20, params: { case: "file", value: { kind } } },
    });
  const of = (channelId: number, what: "info" | "close") =>
    sent.filter((f) => f.channelId === channelId && f.payload?.case === what).map((f) => f.payload!.value);
  const closeOf = (channelId: number) => of(channelId, "close")[0] as ChannelClose | undefined;
  const infos = (channelId: number) => of(channelId, "info") as ChannelInfo[];
  return { frame, open, closeOf, infos };
}

const openFds = () => readdirSync("/proc/self/fd").length;

describe("file channels on the agent", () => {
  let root: string;
  beforeAll(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "rmm-file-channel-")));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("ends an upload sent the wrong info with InvalidArgument and lets the next upload of that partial in", async () => {
    const { frame, open, closeOf, infos } = setup(root);
    const target = {
      path: join(root, "wrong-info"),
      source: { size: 10n, modifyTime: { seconds: 7n, nanos: 0 } },
    } satisfies UploadTargetInit;
    open(1, { case: "upload", value: { target, offset: 0n } });
    await until(() => infos(1).some((i) => i.kind.case === "uploadOffset"), "the upload to be accepted");
    frame(1, { case: "info", value: { kind: { case: "fileEntries", value: { entries: [] } } } });
    await until(() => closeOf(1) !== undefined, "the upload to be refused");
    expect(closeOf(1)).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/takes only its digest/),
    });
    // Answered only once nobody holds the partial: a refusal that kept the lock would leave this waiting forever.
    open(2, { case: "prepareUpload", value: target });
    await until(() => closeOf(2) !== undefined, "the prepare to answer");
    expect(closeOf(2)?.code).toBe(0);
    expect(infos(2)[0]?.kind).toMatchObject({ case: "uploadOffset", value: { offset: 0n } });
  });

  it("keeps the held bytes and leaks no descriptor when uploads close while the agent opens the partial", async () => {
    const { frame, open, closeOf, infos } = setup(root);
    const held = 8 * 1024 * 1024;
    const target = {
      path: join(root, "cut"),
      source: { size: BigInt(2 * held), modifyTime: { seconds: 7n, nanos: 0 } },
    } satisfies UploadTargetInit;
    writeFileSync(uploadPartialPath(target.path, { size: 2 * held, mtimeMs: 7_000 }), Buffer.alloc(held, 1));
    const before = openFds();
    let channelId = 1;
    for (const delayMs of [0, 0, 1, 2, 5, 10, 20]) {
      const id = channelId++;
      open(id, { case: "upload", value: { target, offset: BigInt(held) } });
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      frame(id, { case: "close", value: { code: Code.Canceled, message: "cancelled" } });
    }
    const prepare = channelId;
    open(prepare, { case: "prepareUpload", value: target });
    await until(() => closeOf(prepare) !== undefined, "the prepare to answer");
    expect(infos(prepare)[0]?.kind).toMatchObject({ case: "uploadOffset", value: { offset: BigInt(held) } });
    await until(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`);
  });

  it("closes the directory of a listing closed while it was being opened", async () => {
    const { frame, open } = setup(root);
    const dir = join(root, "listed");
    mkdirSync(dir);
    writeFileSync(join(dir, "a"), "");
    const before = openFds();
    for (let id = 1; id <= 20; id++) {
      open(id, { case: "listPath", value: dir });
      frame(id, { case: "close", value: { code: Code.Canceled, message: "cancelled" } });
    }
    await until(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`);
  });
});
