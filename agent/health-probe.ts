import { statfs } from "node:fs/promises";
import * as os from "node:os";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HeartbeatSchema } from "../gen/rmm/v1/agent_service_pb.js";

export type Health = MessageInitShape<typeof HeartbeatSchema>;

/** Basic endpoint health for heartbeats: uptime, load, memory, and the disk holding `diskPath`. */
export async function probeHealth(diskPath: string): Promise<Health> {
  const health: Health = {
    uptimeSeconds: BigInt(Math.floor(os.uptime())),
    loadAverage: os.loadavg(),
    memoryTotalBytes: BigInt(os.totalmem()),
    memoryFreeBytes: BigInt(os.freemem()),
  };
  try {
    const fs = await statfs(diskPath);
    health.diskTotalBytes = BigInt(fs.blocks) * BigInt(fs.bsize);
    health.diskFreeBytes = BigInt(fs.bavail) * BigInt(fs.bsize);
  } catch {
    // A missing disk figure is not worth a failed heartbeat; the fields stay zero.
  }
  return health;
}
