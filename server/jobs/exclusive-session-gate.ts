/**
 * The seam between job steps and exclusive tunnel sessions. While an
 * exclusive session is open on an agent, new job steps on it wait (pending,
 * saying why) until it closes; steps already running carry on. The session
 * service implements this once it has exclusive sessions; until then no
 * session is exclusive.
 */
export interface ExclusiveSessionGate {
  /** The id of the exclusive session open on this agent, if any. */
  exclusiveSessionOn(agentId: string): string | undefined;
  /** `listener` is called with the agent's id whenever an exclusive session on it closes. */
  onReleased(listener: (agentId: string) => void): void;
}

export const NO_EXCLUSIVE_SESSIONS: ExclusiveSessionGate = {
  exclusiveSessionOn: () => undefined,
  onReleased: () => undefined,
};
