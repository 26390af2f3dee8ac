import type { Tracer } from "@opentelemetry/api";

export interface Tracing {
  tracer: Tracer;
  /** Flushes spans still batched and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only
 * variant) names a collector: spans go there over OTLP/HTTP, batched. The
 * exporter reads the other standard OTEL_* variables itself (headers,
 * timeout); `OTEL_SERVICE_NAME` overrides the service name. The SDK is
 * imported only then: loading it costs about a second of start-up here.
 */
export async function tracingFromEnvironment(
  env: NodeJS.ProcessEnv,
  serviceName: string,
): Promise<Tracing | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const [{ trace }, { OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] =
    await Promise.all([
      import("@opentelemetry/api"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/sdk-trace-node"),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Registered globally too, so the W3C propagator reads callers' traceparent headers.
  provider.register();
  return { tracer: trace.getTracer(serviceName), shutdown: () => provider.shutdown() };
}
