import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { McpToolAccess } from "./mcp-tool-access.js";
import { toolErrorMessage } from "./tool-error.js";

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolDefinition<I extends z.ZodObject, O extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  /** Reads only: listed under read-only access, and hinted as such. */
  readOnly: boolean;
  /** Hinted to clients as destructive (commands, writes). */
  destructive?: boolean;
  handler(args: z.infer<I>, extra: ToolExtra): Promise<z.infer<O>>;
}

/**
 * Registers one tool with typed input and output schemas and annotations,
 * unless the access level leaves it out. Whatever the handler throws becomes
 * a tool error (`isError: true`) with one actionable sentence: a refusal or a
 * bad argument never ends the MCP session. Annotations are hints for the
 * client; the server's policy is what enforces.
 */
export function defineTool<I extends z.ZodObject, O extends z.ZodObject>(
  server: McpServer,
  access: McpToolAccess,
  tool: ToolDefinition<I, O>,
): void {
  if (access === "read-only" && !tool.readOnly) return;
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.input,
      outputSchema: tool.output,
      annotations: {
        title: tool.title,
        readOnlyHint: tool.readOnly,
        destructiveHint: tool.destructive ?? false,
        openWorldHint: false,
      },
    },
    // The SDK validated the arguments against `input` before calling.
    (async (args: z.infer<I>, extra: ToolExtra): Promise<CallToolResult> => {
      try {
        const result = await tool.handler(args, extra);
        return { content: [{ type: "text", text: JSON.stringify(result, null, 2) }], structuredContent: result };
      } catch (err) {
        return { content: [{ type: "text", text: toolErrorMessage(err) }], isError: true };
      }
    }) as never,
  );
}
