// What every browser script here shares: its environment, checks that print what they checked,
// Debian's Chromium with a desktop-sized page, the admin login, and screenshots with a manifest
// the Rust test reads.
//
// Every page a script visits passes the same bar (issue 19 item 8): call `shots.take(page, name,
// heading)` on it, which checks the heading, runs axe-core (`checkAxe`: WCAG 2.0 and 2.1, A and
// AA, 0 violations allowed), saves `name.png` at 1280 px, then at 390 px checks that the page does
// not scroll sideways (`checkPhone`; wide tables scroll inside their `.table-wrap`), saves
// `name-phone.png`, and back at 1280 px tabs through the first eight focusable elements after the
// header checking each one's focus ring (`checkFocusRing`: solid, >= 2 px, >= 3:1). A page that needs no
// screenshot can call `checkAxe(page, name)`, `checkPhone(page, name)` and
// `checkFocusRing(page, name)` itself. A failing axe check lists each rule, its help URL and the first
// elements that break it, e.g.
//   devices: 1 accessibility violation (WCAG 2 A/AA):
//     color-contrast (serious): Elements must meet minimum color contrast ratio thresholds
//       .s-pending: Fix any of the following: Element has insufficient color contrast of 4.34 ...
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** The viewports every page is checked and photographed at. */
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

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
  const context = await browser.newContext({ viewport: DESKTOP });
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

/**
 * Runs axe-core on the page as it is (WCAG 2.0 and 2.1, levels A and AA) and throws with a
 * readable list of the violations unless there are none. The page's CSP forbids inline scripts,
 * so axe is evaluated through the DevTools protocol, once per document.
 */
export async function checkAxe(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(
    async (tags) => (await window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] })).violations
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, url: v.helpUrl, nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })) })),
    AXE_TAGS,
  );
  if (violations.length) {
    const lines = violations.flatMap((v) => [
      `  ${v.id} (${v.impact}): ${v.help} <${v.url}>`,
      ...v.nodes.slice(0, 5).map((n) => `    ${n.target}: ${n.summary.replace(/\s*\n\s*/g, " ")}`),
      ...(v.nodes.length > 5 ? [`    … and ${v.nodes.length - 5} more`] : []),
    ]);
    throw new Error(`${name}: ${violations.length} accessibility violation(s) (WCAG 2 A/AA) at ${page.url()}:\n${lines.join("\n")}`);
  }
  console.log(`ok - ${name}: axe-core finds no WCAG 2 A/AA violation`);
}

/** Checks that the page, at its current (phone) width, does not scroll sideways. */
export async function checkPhone(page, name) {
  const { scroll, viewport, wide } = await page.evaluate(() => {
    const viewport = window.innerWidth;
    // The outermost elements reaching past the screen's edge, to say what to fix.
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > viewport + 1 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > viewport + 1))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : ""} (${Math.round(e.getBoundingClientRect().right)} px)`);
    return { scroll: document.documentElement.scrollWidth, viewport, wide };
  });
  check(scroll <= viewport, `${name}: no sideways scrolling at ${viewport} px (the page is ${scroll} px wide${wide.length ? "; too wide: " + wide.join(", ") : ""})`);
}

/**
 * Tabs through the first `tabs` focusable elements from the top of the page (with `afterHeader`,
 * the first ones after the skip link and the header's links) and checks that each
 * shows a focus ring: a solid outline at least 2 px wide whose colour has a contrast of at least
 * 3:1 (WCAG 2.1, 1.4.11) with the background it is drawn on (the element's own for an inset ring,
 * else the nearest ancestor's that is not transparent).
 */
export async function checkFocusRing(page, name, tabs = 12, { afterHeader = false } = {}) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.locator("body").focus();
  if (afterHeader) {
    // Past the skip link and the header's links, which every page shares.
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      const inHeader = await page.evaluate(() => {
        const el = document.activeElement;
        return !!el && el !== document.body && (el.classList.contains("skip") || !!el.closest("header.top"));
      });
      if (!inHeader) break;
    }
  }
  for (let i = 0; i < tabs; i++) {
    if (i > 0 || !afterHeader) await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const s = getComputedStyle(el);
      let bg = parseFloat(s.outlineOffset) < 0 ? el : el.parentElement;
      while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
      const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
      const [hi, lo] = [lum(rgb(s.outlineColor)), lum(back)].sort((a, b) => b - a);
      const label = `${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute("aria-label") || el.name || "").trim().slice(0, 30)}"`;
      return { label, style: s.outlineStyle, width: parseFloat(s.outlineWidth), contrast: (hi + 0.05) / (lo + 0.05) };
    });
    if (!ring) break;
    check(ring.style === "solid" && ring.width >= 2 && ring.contrast >= 3,
      `${name}: ${ring.label} shows a ${ring.width} px ${ring.style} focus ring at ${ring.contrast.toFixed(1)}:1`);
  }
}

// Counts the distinct colours of a PNG by drawing it on a canvas: a blank page has one or two.
async function distinctColours(page, png) {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  }, png.toString("base64"));
}

/**
 * Full-page screenshots into SCREENSHOT_DIR, listed in a manifest; each page taken is checked for
 * its heading, with axe-core, at phone width and for its focus ring (see the top of this file).
 */
export class Shots {
  constructor() {
    this.dir = env("SCREENSHOT_DIR");
    mkdirSync(this.dir, { recursive: true });
    this.manifest = [];
  }

  /** `name.png` at the current width and `name-phone.png` at 390 px, unless `phone` is false. */
  async take(page, name, heading, { phone = true } = {}) {
    const h1 = (await page.locator("h1").first().textContent()).trim();
    check(h1.startsWith(heading), `${name}: heading "${h1}" starts with "${heading}"`);
    await checkAxe(page, name);
    await this.#save(page, name, h1);
    if (phone) {
      const before = page.viewportSize();
      await page.setViewportSize(PHONE);
      try {
        await checkPhone(page, `${name} (phone)`);
        await this.#save(page, `${name}-phone`, h1);
      } finally {
        await page.setViewportSize(before);
      }
    }
    // After the screenshots, which should not show a focused element.
    await checkFocusRing(page, name, 8, { afterHeader: true });
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  }

  async #save(page, name, heading) {
    const png = await page.screenshot({ path: join(this.dir, `${name}.png`), fullPage: true });
    this.manifest.push({ name, heading, bytes: png.length, colours: await distinctColours(page, png) });
  }

  save(file) {
    writeFileSync(join(this.dir, file), JSON.stringify(this.manifest, null, 2));
  }
}
