// What every browser script here shares: its environment, checks that print what they checked,
// Debian's Chromium with a desktop-sized page, the admin login, and screenshots with a manifest
// the Rust test reads.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The environment variable `k`, or `d`; without either the script stops and says which. */
export const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`environment variable ${k} is required`);
  return v;
};

/** Throws unless `cond`; prints `what` when it holds. */
export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

/** Headless Chromium (CHROMIUM, default Debian's) and a 1280×900 page with a 15 s timeout. */
export async function launch() {
  const browser = await chromium.launch({ executablePath: env("CHROMIUM", "/usr/bin/chromium"), headless: true, args: ["--no-sandbox"] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  return { browser, page };
}

/** Logs in as ADMIN_USER / ADMIN_PASSWORD and waits for the overview. */
export async function loginAsAdmin(page, base) {
  await page.goto(`${base}/ui/login`);
  await page.getByLabel("Username").fill(env("ADMIN_USER"));
  await page.getByLabel("Password").fill(env("ADMIN_PASSWORD"));
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForSelector("h1:has-text('Overview')");
}

/** Full-page screenshots into SCREENSHOT_DIR, each checked for its heading and listed in a manifest. */
export class Shots {
  constructor() {
    this.dir = env("SCREENSHOT_DIR");
    mkdirSync(this.dir, { recursive: true });
    this.manifest = [];
  }

  async take(page, name, heading) {
    const h1 = (await page.locator("h1").first().textContent()).trim();
    check(h1.startsWith(heading), `${name}: heading "${h1}" starts with "${heading}"`);
    const png = await page.screenshot({ path: join(this.dir, `${name}.png`), fullPage: true });
    this.manifest.push({ name, heading: h1, bytes: png.length });
  }

  save(file) {
    writeFileSync(join(this.dir, file), JSON.stringify(this.manifest, null, 2));
  }
}
