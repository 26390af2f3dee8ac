import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { FILE_CHUNK_BYTES } from "../../common/file-chunks.js";
import { FileKind, type FileInfo } from "../../gen/rmm/v1/file_pb.js";
import { UploadRequestSchema, type UploadRequest } from "../../gen/rmm/v1/tunnel_service_pb.js";
import { onlineAgent } from "../agent-lookup.js";
import { defineTool } from "../define-tool.js";
import type { McpToolAccess } from "../mcp-tool-access.js";
import { ToolError } from "../tool-error.js";
import type { ToolContext } from "../tool-context.js";

/** Bytes read_file returns by default. Defaults to 64 KiB: it goes into the assistant's context. */
export const READ_FILE_DEFAULT_BYTES = 64 * 1024;
/** The most read_file returns in one call: 1 MiB. */
export const READ_FILE_MAX_BYTES = 1 << 20;
/** Largest content write_file takes: 8 MiB (the whole content travels in one MCP message). */
export const WRITE_FILE_MAX_BYTES = 8 << 20;
/** Entries list_directory returns by default, and at most. */
const LIST_DEFAULT_ENTRIES = 1_000;
const LIST_MAX_ENTRIES = 10_000;

const infoSchema = z.object({
  path: z.string(),
  name: z.string(),
  kind: z.enum(["file", "directory", "symlink", "other", "unknown"]),
  size: z.number().int(),
  mode: z.string().describe("permission bits in octal, e.g. 0644"),
  modified: z.string().nullable().describe("ISO 8601"),
  symlink_target: z.string().nullable(),
});

const KIND: Record<FileKind, z.infer<typeof infoSchema>["kind"]> = {
  [FileKind.UNSPECIFIED]: "unknown",
  [FileKind.FILE]: "file",
  [FileKind.DIRECTORY]: "directory",
  [FileKind.SYMLINK]: "symlink",
  [FileKind.OTHER]: "other",
};

function infoOf(info: FileInfo | undefined): z.infer<typeof infoSchema> {
  if (!info) throw new ToolError("the agent sent no file information");
  return {
    path: info.path,
    name: info.name,
    kind: KIND[info.kind] ?? "unknown",
    size: Number(info.size),
    mode: `0${info.mode.toString(8)}`,
    modified: info.modifyTime ? new Date(timestampMs(info.modifyTime)).toISOString() : null,
    symlink_target: info.symlinkTarget || null,
  };
}

const agentArg = z.string().min(1).max(255).describe("agent id or hostname (list_agents)");
const pathArg = z.string().min(1).max(4096).describe("absolute path on the agent");

export function registerFileTools(server: McpServer, access: McpToolAccess, ctx: ToolContext): void {
  defineTool(server, access, {
    name: "stat",
    title: "File information",
    description: "Metadata of a path on an agent (symlinks resolved): kind, size, mode, modification time.",
    input: z.object({ agent: agentArg, path: pathArg }),
    output: infoSchema,
    readOnly: true,
    async handler(args) {
      const agent = await onlineAgent(ctx.client, args.agent);
      return ctx.sessions.use(agent, async (sessionId) =>
        infoOf((await ctx.client.stat({ sessionId, path: args.path })).info),
      );
    },
  });

  defineTool(server, access, {
    name: "list_directory",
    title: "List a directory",
    description: "Entries of a directory on an agent, with their kind, size and modification time.",
    input: z.object({
      agent: agentArg,
      path: pathArg,
      limit: z.number().int().min(1).max(LIST_MAX_ENTRIES).default(LIST_DEFAULT_ENTRIES),
    }),
    output: z.object({
      path: z.string(),
      entries: z.array(infoSchema),
      count: z.number().int(),
      truncated: z.boolean().describe("more entries exist than limit"),
    }),
    readOnly: true,
    async handler(args) {
      const agent = await onlineAgent(ctx.client, args.agent);
      return ctx.sessions.use(agent, async (sessionId) => {
        const entries: z.infer<typeof infoSchema>[] = [];
        const stop = new AbortController();
        let truncated = false;
        try {
          for await (const batch of ctx.client.listDirectory({ sessionId, path: args.path }, { signal: stop.signal })) {
            for (const e of batch.entries) {
              if (entries.length === args.limit) {
                truncated = true;
                break;
              }
              entries.push(infoOf(e));
            }
            if (truncated) break;
          }
        } finally {
          stop.abort();
        }
        return { path: args.path, entries, count: entries.length, truncated };
      });
    },
  });

  defineTool(server, access, {
    name: "read_file",
    title: "Read a text file",
    description: `Read a text file on an agent, or a byte range of it (offset, length; at most ${READ_FILE_MAX_BYTES} bytes a call, ${READ_FILE_DEFAULT_BYTES} by default). A whole file read from offset 0 is checked against the agent's SHA-256.`,
    input: z.object({
      agent: agentArg,
      path: pathArg,
      offset: z.number().int().min(0).default(0),
      length: z.number().int().min(1).max(READ_FILE_MAX_BYTES).default(READ_FILE_DEFAULT_BYTES),
    }),
    output: z.object({
      path: z.string(),
      size: z.number().int().describe("size of the whole file"),
      offset: z.number().int(),
      bytes: z.number().int().describe("bytes returned in text"),
      text: z.string(),
      eof: z.boolean().describe("the read reached the end of the file"),
      sha256: z
        .string()
        .nullable()
        .describe("hex SHA-256 of the whole file, verified, when the read covered all of it"),
    }),
    readOnly: true,
    async handler(args) {
      const agent = await onlineAgent(ctx.client, args.agent);
      return ctx.sessions.use(agent, async (sessionId) => {
        const stop = new AbortController();
        const chunks: Buffer[] = [];
        let got = 0;
        let size = 0;
        let from = args.offset;
        let sha256: string | null = null;
        const hash = createHash("sha256");
        try {
          for await (const res of ctx.client.download(
            { sessionId, path: args.path, offset: BigInt(args.offset) },
            { signal: stop.signal },
          )) {
            if (res.kind.case === "start") {
              size = Number(res.kind.value.info?.size ?? 0);
              from = Number(res.kind.value.offset);
            } else if (res.kind.case === "chunk") {
              const chunk = Buffer.from(res.kind.value);
              hash.update(chunk);
              chunks.push(chunk.subarray(0, args.length - got));
              got += Math.min(chunk.length, args.length - got);
              if (got >= args.length && from + got < size) break;
            } else if (res.kind.case === "sha256") {
              const theirs = Buffer.from(res.kind.value).toString("hex");
              if (from === 0) {
                const ours = hash.digest("hex");
                if (ours !== theirs)
                  throw new ToolError(`${args.path}: the bytes read do not match the agent's SHA-256; read it again`);
              }
              sha256 = from === 0 ? theirs : null;
            }
          }
        } finally {
          stop.abort();
        }
        const data = Buffer.concat(chunks);
        if (data.includes(0))
          throw new ToolError(
            `${args.path} looks binary (it has NUL bytes): read_file returns text; use stat, or run_command with base64 or xxd`,
          );
        return {
          path: args.path,
          size,
          offset: from,
          bytes: data.length,
          text: data.toString("utf8"),
          eof: from + data.length >= size,
          sha256: from === 0 && data.length === size ? sha256 : null,
        };
      });
    },
  });

  defineTool(server, access, {
    name: "write_file",
    title: "Write a file",
    description:
      "Write a whole file on an agent. The agent installs it atomically only after its SHA-256 matched; without overwrite an existing file is left alone and the call fails.",
    input: z.object({
      agent: agentArg,
      path: pathArg,
      content: z.string().describe("the whole new content"),
      encoding: z.enum(["utf-8", "base64"]).default("utf-8").describe("how content is encoded"),
      sha256: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/)
        .optional()
        .describe("expected hex SHA-256 of the decoded content; refused before sending when it differs"),
      overwrite: z.boolean().default(false).describe("replace an existing file"),
      create_parents: z.boolean().default(false).describe("create missing parent directories"),
      mode: z.number().int().min(0).max(0o7777).optional().describe("permission bits, e.g. 420 for 0644"),
    }),
    output: z.object({
      path: z.string(),
      size: z.number().int(),
      sha256: z.string().describe("hex SHA-256 the agent verified"),
    }),
    readOnly: false,
    destructive: true,
    async handler(args) {
      const data = args.encoding === "base64" ? Buffer.from(args.content, "base64") : Buffer.from(args.content, "utf8");
      if (data.length > WRITE_FILE_MAX_BYTES)
        throw new ToolError(
          `content is ${data.length} bytes, over write_file's limit of ${WRITE_FILE_MAX_BYTES}: use rmm cp for large files`,
        );
      const digest = createHash("sha256").update(data).digest();
      if (args.sha256 && digest.toString("hex") !== args.sha256.toLowerCase())
        throw new ToolError(
          `content's SHA-256 is ${digest.toString("hex")}, not the expected ${args.sha256}: nothing was written`,
        );
      const agent = await onlineAgent(ctx.client, args.agent);
      return ctx.sessions.use(agent, async (sessionId) => {
        // A fresh source version per call, so no partial file of an earlier write is ever resumed into this one.
        const target = {
          path: args.path,
          source: { size: BigInt(data.length), modifyTime: timestampFromMs(Date.now()) },
          overwrite: args.overwrite,
          createParents: args.create_parents,
          mode: args.mode ?? 0,
        };
        const prepared = await ctx.client.prepareUpload({ sessionId, target });
        async function* requests(): AsyncGenerator<UploadRequest> {
          yield create(UploadRequestSchema, {
            kind: { case: "start", value: { sessionId, target, offset: prepared.offset } },
          });
          for (let at = Number(prepared.offset); at < data.length; at += FILE_CHUNK_BYTES)
            yield create(UploadRequestSchema, {
              kind: { case: "chunk", value: data.subarray(at, at + FILE_CHUNK_BYTES) },
            });
          yield create(UploadRequestSchema, { kind: { case: "sha256", value: digest } });
        }
        const res = await ctx.client.upload(requests());
        const theirs = Buffer.from(res.sha256).toString("hex");
        if (theirs !== digest.toString("hex"))
          throw new ToolError(`the agent reports SHA-256 ${theirs} for ${args.path}, not ${digest.toString("hex")}`);
        return { path: res.info?.path ?? args.path, size: Number(res.info?.size ?? data.length), sha256: theirs };
      });
    },
  });
}
