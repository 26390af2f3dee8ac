import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CLI_MAIN } from "./run-cli.js";

/** The name and version the test client gives in `initialize`: audit rows say `via: mcp/rmm-test-client/1.2.3`. */
export const TEST_CLIENT = { name: "rmm-test-client", version: "1.2.3" } as const;
export const TEST_VIA = `mcp/${TEST_CLIENT.name}/${TEST_CLIENT.version}`;

export type McpTransportKind = "stdio" | "http";

/** The SDK's own client, connected to `rmm mcp` (spawned, stdio) or to the server's `/mcp` (Streamable HTTP). */
export async function connectMcp(
  kind: McpTransportKind,
  opts: { url: string; token: string; configHome: string },
): Promise<Client> {
  const client = new Client(TEST_CLIENT);
  if (kind === "stdio") {
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI_MAIN, "mcp"],
        env: {
          ...process.env,
          RMM_SERVER: opts.url,
          RMM_TOKEN: opts.token,
          XDG_CONFIG_HOME: opts.configHome,
        } as Record<string, string>,
        stderr: "inherit",
      }),
    );
  } else {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${opts.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${opts.token}` } },
      }),
    );
  }
  return client;
}

/** A tool call's structured result, failing with the tool's message when it was an error. */
export async function callOk<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** A tool call expected to fail: its one-line message. */
export async function callError(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (!result.isError) throw new Error(`${name} succeeded: ${JSON.stringify(result.structuredContent)}`);
  const first = result.content[0];
  return first?.type === "text" ? first.text : JSON.stringify(result.content);
}

/** Ends the MCP session as a well-behaved client does: HTTP DELETE for Streamable HTTP, stdin closed for stdio. */
export async function disconnectMcp(client: Client | undefined): Promise<void> {
  if (!client) return;
  const transport = client.transport;
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) await transport.terminateSession();
  await client.close();
}
