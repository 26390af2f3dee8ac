/**
 * Node flags for every rmm-server process the bench starts, matching what
 * the README recommends for deployment (`NODE_OPTIONS=--max-semi-space-size=2`)
 * and what `npm start` uses. A 2 MiB young generation (V8 sizes it up to 16
 * MiB by default under load) keeps the idle server's resident memory down;
 * idle agents allocate little, so the extra scavenges cost nothing measurable.
 * The bare baselines run with Node's defaults.
 */
export const BENCH_SERVER_NODE_ARGS: readonly string[] = ["--max-semi-space-size=2"];
