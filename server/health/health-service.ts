import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthStatus } from "./health-status.js";

/** grpc.health.v1.Health on a Connect router: Check, Watch and List, as load balancers and grpc-health-probe call them. */
export function registerHealth(router: ConnectRouter, health: HealthStatus): void {
  router.service(Health, {
    check(req) {
      const status = health.get(req.service);
      // The health protocol answers an unknown service with NOT_FOUND.
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return { status };
    },
    async *watch(req, ctx) {
      for await (const status of health.watch(req.service, ctx.signal)) yield { status };
    },
    list() {
      return { statuses: Object.fromEntries([...health.entries()].map(([service, status]) => [service, { status }])) };
    },
  });
}
