import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium (scripts/ensure-chromium.sh installs it). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Flags for a headless chromium on a machine with no network beyond the
 * package registries and no GPU: nothing phones home, nothing updates itself.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** One chromium with a fresh profile directory, removed on close. */
export async function launchTestBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "rmm-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where the browser tests write screenshots of every page, for a person to look at. */
export const WEB_ARTIFACTS = join(import.meta.dirname, "..", "test-artifacts", "web");
/** The sizes every page must look right at: a laptop and a phone. */
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

/** Screenshots the page at each of VIEWPORTS into WEB_ARTIFACTS as `<name>-<size>.png`; leaves it at desktop size. */
export async function screenshots(page: Page, name: string): Promise<void> {
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(WEB_ARTIFACTS, `${name}-${size}.png`) });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}
