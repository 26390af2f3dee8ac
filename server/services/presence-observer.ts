/** What agent presence reports as streams come and go (metrics listen; presence does not know them). */
export interface PresenceObserver {
  streamConnected(): void;
  /** `reason` is the stream handler's free text ("missed heartbeats", "InvalidArgument: ..."). */
  streamDisconnected(reason: string): void;
}

export const noPresenceObserver: PresenceObserver = {
  streamConnected: () => undefined,
  streamDisconnected: () => undefined,
};
