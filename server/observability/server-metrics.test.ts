import { describe, expect, it } from "vitest";
import { ChannelType } from "../../gen/rmm/v1/frame_pb.js";
import { disconnectReasonLabel, ServerMetrics } from "./server-metrics.js";

describe("server metrics", () => {
  it("folds the stream handler's free-text disconnect reasons into a bounded label", () => {
    expect(disconnectReasonLabel("missed heartbeats")).toBe("missed_heartbeats");
    expect(disconnectReasonLabel("connection lost")).toBe("connection_lost");
    expect(disconnectReasonLabel("agent closed its stream")).toBe("agent_closed");
    expect(disconnectReasonLabel("InvalidArgument: hello sent twice on one stream")).toBe("invalid_argument");
    expect(disconnectReasonLabel("ResourceExhausted: message over 4 MiB")).toBe("resource_exhausted");
    expect(disconnectReasonLabel("Bogus: whatever the agent said")).toBe("other");
  });

  it("keeps a channel gauge per type that returns to zero", async () => {
    const metrics = new ServerMetrics({ agents: () => [] });
    metrics.channelOpened(ChannelType.TERMINAL);
    metrics.channelOpened(ChannelType.TERMINAL);
    metrics.channelEnded(ChannelType.TERMINAL);
    metrics.relayed(ChannelType.TERMINAL, "to_agent", 10);
    metrics.stepsReached("succeeded", 2);
    const { body, contentType } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toMatch(/^rmm_channels_open\{type="terminal"\} 1$/m);
    expect(body).toMatch(/^rmm_channel_relayed_bytes_total\{type="terminal",direction="to_agent"\} 10$/m);
    expect(body).toMatch(/^rmm_job_steps_total\{state="succeeded"\} 2$/m);
    expect(body).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
  });
});
