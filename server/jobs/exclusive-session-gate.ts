/**
 * The seam between job steps and exclusive tunnel sessions (implemented by the
 * session service). While an exclusive session is open on an agent, new job
 * steps on it wait (pending, saying why) until it closes; steps already
 * running carry on.
 */
export interface ExclusiveSessionGate {
  /** The id of the exclusive session open on this agent, if any. */
  exclusiveSessionOn(agentId: string): string | undefined;
  /** `listener` is called with the agent's id whenever an exclusive session on it closes. */
  onReleased(listener: (agentId: string) => void): void;
}
