import { Presets, SingleBar } from "cli-progress";
import type { TransferProgress } from "../client/file-transfer.js";
import { formatBytes } from "./output-format.js";

export interface TransferProgressBar {
  update(progress: TransferProgress): void;
  stop(): void;
}

/**
 * Bytes, rate and ETA on a terminal. The rate counts only bytes moved in this
 * run: a resumed transfer starts part-way, and counting the held bytes would
 * show a rate the link never had.
 */
export function transferProgressBar(stream: NodeJS.WriteStream): TransferProgressBar {
  const bar = new SingleBar(
    {
      stream,
      format: "{bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    Presets.shades_classic,
  );
  let startedAt = 0;
  let startedFrom = 0;
  return {
    update({ transferred, total }) {
      if (!startedAt) {
        startedAt = performance.now();
        startedFrom = transferred;
        bar.start(total, transferred, {
          done: formatBytes(transferred),
          size: formatBytes(total),
          rate: formatBytes(0),
        });
        return;
      }
      const seconds = (performance.now() - startedAt) / 1000;
      const rate = seconds > 0 ? (transferred - startedFrom) / seconds : 0;
      bar.update(transferred, { done: formatBytes(transferred), rate: formatBytes(Math.round(rate)) });
    },
    stop() {
      if (startedAt) bar.stop();
    },
  };
}
