import type { JobClient, TunnelClient } from "../api/browser-client.js";

/** A page of the console: it renders into `root` and releases what it holds (timers, sessions) in `dispose`. */
export interface View {
  dispose(): void;
}

export interface ViewContext {
  client: TunnelClient;
  jobs: JobClient;
  /** The same client, for calls made as the page goes away (unary only). */
  keepaliveClient: TunnelClient;
  /** Who the token is for, from its claims (for display only; the server decides). */
  technician: string;
  signOut(reason: string): void;
}
