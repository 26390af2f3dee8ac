import { trace, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export interface Tracing {
  tracer: Tracer;
  /** Flushes spans still batched and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only
 * variant) names a collector: spans go there over OTLP/HTTP, batched. The
 * exporter reads the other standard OTEL_* variables itself (headers,
 * timeout); `OTEL_SERVICE_NAME` overrides the service name.
 */
export function tracingFromEnvironment(env: NodeJS.ProcessEnv, serviceName: string): Tracing | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Registered globally too, so the W3C propagator reads callers' traceparent headers.
  provider.register();
  return { tracer: trace.getTracer(serviceName), shutdown: () => provider.shutdown() };
}
