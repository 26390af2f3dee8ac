import { CloseReason } from "../../gen/rmm/v1/tunnel_service_pb.js";
import type { CloseReasonName } from "../store/index.js";

const REASON: Record<CloseReasonName, CloseReason> = {
  closed_by_technician: CloseReason.CLOSED_BY_TECHNICIAN,
  agent_disconnected: CloseReason.AGENT_DISCONNECTED,
  agent_error: CloseReason.AGENT_ERROR,
  timeout: CloseReason.TIMEOUT,
  idle_timeout: CloseReason.IDLE_TIMEOUT,
  server_restart: CloseReason.SERVER_RESTART,
  open_failed: CloseReason.OPEN_FAILED,
  released: CloseReason.RELEASED,
  node_lost: CloseReason.NODE_LOST,
};

/** The wire enum for a stored close reason. */
export function closeReasonEnum(reason: CloseReasonName | null): CloseReason {
  return reason === null ? CloseReason.UNSPECIFIED : REASON[reason];
}
