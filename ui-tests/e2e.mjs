// End-to-end flow of the Updraft web UI in headless Chromium, driven by Playwright (core only: it
// launches Debian's /usr/bin/chromium, no browser download). server/tests/ui_browser.rs starts the
// server, creates the device and the limited user, runs this script and checks its screenshots.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, LIMITED_USER, LIMITED_PASSWORD, DEVICE_ID,
// DEVICE_TOKEN, SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { PHONE, Shots, check, checkAxe, checkFocusRing, env, launch } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const device = env("DEVICE_ID");
const shots = new Shots();
// Checks the page's heading, runs axe-core and saves desktop and phone screenshots (lib.mjs).
const shot = (page, name, heading) => shots.take(page, name, heading);
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

// Runs `fn` with the page at phone width (390 px), then restores the desktop width.
async function atPhoneWidth(page, fn) {
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  try { await fn(); } finally { await page.setViewportSize(before); }
}

// True when the element's content fits its width (it need not scroll sideways).
const fits = (locator) => locator.evaluate((el) => el.scrollWidth <= el.clientWidth);

async function login(page, user, password) {
  await page.goto(`${base}/ui`);
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForSelector("h1:has-text('Overview')");
}

// The simulated device: DDI over plain HTTP with its security token.
async function ddi(path, init = {}) {
  const res = await fetch(`${base}/DEFAULT/controller/v1/${device}${path}`, {
    ...init,
    headers: { Authorization: `TargetToken ${env("DEVICE_TOKEN")}`, "Content-Type": "application/json", Accept: "application/hal+json" },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`DDI ${path}: HTTP ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Creates version `version` of e2e-set (the e2e-app module) and opens the new rollout form with
// `name` and that set filled in; the caller fills the rest.
async function newRolloutForm(page, { version, name }) {
  await page.goto(`${base}/ui/distributions`);
  await page.getByLabel("Name").fill("e2e-set");
  await page.getByLabel("Version").fill(version);
  await page.getByLabel("Type").selectOption({ label: "App(s) only" });
  await page.getByLabel("e2e-app 1.0.0").check();
  await page.getByRole("button", { name: "Create distribution set" }).click();
  await page.waitForSelector("h1:has-text('Distribution set e2e-set')");
  await page.goto(`${base}/ui/rollouts`);
  await page.getByRole("link", { name: "New rollout" }).click();
  await page.waitForSelector("h1:has-text('New rollout')");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Distribution set").selectOption({ label: `e2e-set:${version}` });
}

const { browser, page } = await launch();
try {

  // Log in: the UI sends us to the login page first.
  await page.goto(`${base}/ui`);
  check(page.url().includes("/ui/login"), "an anonymous visit goes to the login page");
  await shot(page, "login", "Log in");
  await login(page, env("ADMIN_USER"), env("ADMIN_PASSWORD"));
  await shot(page, "overview", "Overview");

  // A software module with an artifact uploaded through the drop zone's file input.
  await page.goto(`${base}/ui/software`);
  await page.getByLabel("Name").fill("e2e-app");
  await page.getByLabel("Version").fill("1.0.0");
  await page.getByLabel("Type").selectOption({ label: "Application" });
  await page.getByRole("button", { name: "Create module" }).click();
  await page.waitForSelector("h1:has-text('Software module e2e-app')");
  const upload = async (name, buffer) => {
    await page.setInputFiles("#file", { name, mimeType: "application/octet-stream", buffer });
    await page.getByRole("button", { name: "Upload" }).click();
    await page.waitForSelector(`p.notice:has-text('Uploaded ${name}')`);
  };
  const appBytes = Buffer.alloc(3 * 1024 * 1024, 7);
  await upload("app.bin", appBytes);
  const app = page.locator("tr[data-artifact='app.bin']");
  check(await app.count() === 1, "the uploaded artifact is listed");
  check(await app.locator("td", { hasText: "3.0 MiB" }).count() === 1, "with its size");

  // Its full SHA-256: one click selects all of it (no script needed), the copy button copies it.
  const hash = app.locator("code.hash");
  check((await hash.textContent()).trim() === sha256(appBytes), "the artifact's full SHA-256 is shown");
  await hash.click();
  check((await page.evaluate(() => getSelection().toString())).trim() === sha256(appBytes), "one click selects the whole SHA-256");
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await app.getByRole("button", { name: "Copy the SHA-256 of app.bin" }).click();
  await app.getByRole("button", { name: /^Copied/ }).waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === sha256(appBytes), "the copy button puts the SHA-256 on the clipboard");

  // Download through the UI: the same bytes.
  const [download] = await Promise.all([page.waitForEvent("download"), app.getByRole("link", { name: "app.bin (download)" }).click()]);
  check(download.suggestedFilename() === "app.bin", "the download is named app.bin");
  check(sha256(readFileSync(await download.path())) === sha256(appBytes), "the downloaded file has the artifact's SHA-256");

  // Delete a second artifact, after confirming.
  await upload("extra.bin", Buffer.from("a second artifact"));
  let asked = "";
  page.once("dialog", (d) => { asked = d.message(); d.accept(); });
  await page.getByRole("button", { name: "Delete extra.bin" }).click();
  await page.waitForSelector("p.notice:has-text('Deleted extra.bin.')");
  check(asked.startsWith("Delete extra.bin?"), `deleting asks first ("${asked}")`);
  check(await page.locator("tr[data-artifact='extra.bin']").count() === 0 && await app.count() === 1, "only the deleted artifact is gone");
  await shot(page, "software-module", "Software module");
  await page.goto(`${base}/ui/software`);
  await shot(page, "software", "Software modules");

  // A distribution set with that module.
  await page.goto(`${base}/ui/distributions`);
  await shot(page, "distributions", "Distribution sets");
  await page.getByLabel("Name").fill("e2e-set");
  await page.getByLabel("Version").fill("1.0.0");
  await page.getByLabel("Type").selectOption({ label: "App(s) only" });
  await page.getByLabel("e2e-app 1.0.0").check();
  await page.getByRole("button", { name: "Create distribution set" }).click();
  await page.waitForSelector("h1:has-text('Distribution set e2e-set')");
  await shot(page, "distribution-set", "Distribution set");

  // Assign it to the device.
  await page.goto(`${base}/ui/devices`);
  await shot(page, "devices", "Devices");
  await checkFocusRing(page, "devices", 16);
  await atPhoneWidth(page, async () => {
    const list = page.locator("main .table-wrap", { has: page.locator("th", { hasText: "Status" }) });
    check(await fits(list), "at 390 px the device list fits the screen without scrolling sideways");
    check(await list.getByRole("link", { name: device, exact: true }).isVisible(), "and links to the device");
  });
  await page.getByRole("link", { name: device, exact: true }).click();
  await page.waitForSelector(`h1:has-text('Device ${device}')`);
  await page.getByLabel("Distribution set").selectOption({ label: "e2e-set:1.0.0" });
  await page.getByRole("button", { name: "Assign" }).click();
  await page.waitForSelector("p.notice:has-text('Assigned.')");
  check((await page.locator("#update-status").textContent()).includes("pending"), "the device is pending");

  // The device polls, downloads nothing (the test does not need the bytes) and reports success;
  // the open page picks the change up by itself.
  const poll = await ddi("");
  const href = poll._links?.deploymentBase?.href;
  check(Boolean(href), "the device sees a deployment");
  const actionId = href.split("/deploymentBase/")[1].split("?")[0];
  const deployment = await ddi(`/deploymentBase/${actionId}`);
  check(deployment.deployment.chunks[0].artifacts[0].filename === "app.bin", "the deployment names the artifact");
  await ddi(`/deploymentBase/${actionId}/feedback`, {
    method: "POST",
    body: JSON.stringify({ id: actionId, status: { execution: "closed", result: { finished: "success" }, details: ["installed by the e2e device"] } }),
  });
  await page.locator("#update-status", { hasText: "in sync" }).waitFor({ timeout: 20000 });
  check(await page.getByText("installed by the e2e device").count() === 1, "the status message is in the history");
  // A long attribute value (no spaces to break at) still fits a phone's screen.
  const fingerprint = "updraft/rpi4-64/rpi4:2026.12/UPD.20261207.084700/3141592653:user/release-keys";
  await ddi("/configData", { method: "PUT", body: JSON.stringify({ mode: "merge", data: { "build.fingerprint": fingerprint } }) });
  await page.reload();
  await shot(page, "device", "Device");
  await atPhoneWidth(page, async () => {
    const attributes = page.locator("section", { has: page.locator("h2", { hasText: "Attributes" }) }).locator(".table-wrap");
    check(await fits(attributes), "at 390 px the device's attributes fit the screen without scrolling sideways");
    check(await attributes.getByText(fingerprint).isVisible(), "the long attribute value is shown in full");
  });

  await page.goto(`${base}/ui/settings`);
  await shot(page, "settings", "Settings");

  // A rollout of a newer set over the device: the filter's match count shows as one types (and a
  // bad filter is named at the field), then the device's report moves the live group table on.
  await newRolloutForm(page, { version: "2.0.0", name: "e2e-rollout" });
  const filter = page.getByLabel("Target filter");
  await filter.fill("nme==x");
  await page.locator("#q-preview [role=alert]", { hasText: "Unknown field" }).waitFor();
  check((await filter.getAttribute("aria-invalid")) === "true", "a bad filter is marked at the field");
  await filter.fill(`controllerId==${device}`);
  await page.locator("#q-preview", { hasText: "1 devices match" }).waitFor();
  check((await filter.getAttribute("aria-invalid")) === null, "the preview counts the device as one types");
  await shot(page, "rollout-new", "New rollout");
  await page.getByRole("button", { name: "Create rollout" }).click();
  await page.waitForSelector("h1:has-text('Rollout e2e-rollout')");
  check(await page.locator("#rollout-status", { hasText: "ready" }).count() === 1, "the new rollout is ready");
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.waitForSelector("p.notice:has-text('Rollout started.')");
  check(await page.locator("#groups td .badge", { hasText: "running" }).count() === 1, "its group is running");
  const rpoll = await ddi("");
  const rhref = rpoll._links?.deploymentBase?.href;
  check(Boolean(rhref), "the device sees the rollout's deployment");
  const rAction = rhref.split("/deploymentBase/")[1].split("?")[0];
  await ddi(`/deploymentBase/${rAction}/feedback`, {
    method: "POST",
    body: JSON.stringify({ id: rAction, status: { execution: "closed", result: { finished: "success" }, details: ["rolled out"] } }),
  });
  // The open page refreshes its live part while the rollout runs.
  await page.locator("#groups td .badge", { hasText: "finished" }).waitFor({ timeout: 20000 });
  await page.locator("#rollout-status", { hasText: "finished" }).waitFor({ timeout: 20000 });
  check((await page.locator("#live svg.bar").first().getAttribute("aria-label")) === "1 finished", "the progress bar counts the device as finished");
  await page.waitForFunction(() => !document.getElementById("live").hasAttribute("data-refresh"), null, { timeout: 10000 });
  check(true, "a finished rollout's page stops refreshing");
  await shot(page, "rollout", "Rollout e2e-rollout");
  await page.getByRole("link", { name: "Rollouts", exact: true }).click();
  await page.waitForSelector("h1:has-text('Rollouts')");
  check(await page.getByRole("link", { name: "e2e-rollout" }).count() === 1, "the rollout is listed");
  await shot(page, "rollouts", "Rollouts");

  // A soak-gated rollout of a third version: the device reports its A/B slots (the `updraft.*`
  // attributes of docs/fleet-health.md) through DDI configData, succeeds on slot b, then its
  // watchdog rolls it back to slot a. The rollout's group counts it as an error; the fleet page and
  // the device's slot panel show the rollback.
  await newRolloutForm(page, { version: "3.0.0", name: "e2e-soak" });
  await page.getByLabel("Target filter").fill(`controllerId==${device}`);
  await page.getByLabel("Soak time (minutes, optional)").fill("10");
  await page.getByRole("button", { name: "Create rollout" }).click();
  await page.waitForSelector("h1:has-text('Rollout e2e-soak')");
  check(await page.getByText("10 minutes").count() >= 1, "the rollout shows its soak time");
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await page.waitForSelector("p.notice:has-text('Rollout started.')");
  const spoll = await ddi("");
  const shref = spoll._links?.deploymentBase?.href;
  check(Boolean(shref), "the device sees the soak-gated deployment");
  const sAction = shref.split("/deploymentBase/")[1].split("?")[0];
  const slots = { "updraft.slot.booted": "b", "updraft.slot.committed": "a", "updraft.trial": "running", "updraft.slot.a.version": "2.0.0", "updraft.slot.b.version": "3.0.0", "updraft.health": "ok", "updraft.boot_count": "1", "updraft.client.version": "e2e" };
  await ddi("/configData", { method: "PUT", body: JSON.stringify({ mode: "merge", data: slots }) });
  await ddi(`/deploymentBase/${sAction}/feedback`, {
    method: "POST",
    body: JSON.stringify({ id: sAction, status: { execution: "closed", result: { finished: "success" }, details: ["booted slot b"] } }),
  });
  const rolledBack = { "updraft.slot.booted": "a", "updraft.trial": "none", "updraft.trial.outcome": "rolled_back", "updraft.rollback_reason": "watchdog", "updraft.boot_count": "2" };
  await ddi("/configData", { method: "PUT", body: JSON.stringify({ mode: "merge", data: rolledBack }) });
  // The next evaluation (at the latest the scheduler's next sweep) fails the device's soak.
  await page.locator("#groups td .badge", { hasText: "error" }).waitFor({ timeout: 30000 });
  check(true, "the rolled-back device is an error of its group");
  await shot(page, "rollout-soak", "Rollout e2e-soak");

  await page.getByRole("link", { name: "Fleet health", exact: true }).click();
  await page.waitForSelector("h1:has-text('Fleet health')");
  check((await page.locator("#rolled-back-24h .stat").textContent()).trim() === "1", "the fleet page counts one rollback in 24 h");
  check(await page.locator("#rollbacks-24h td", { hasText: "watchdog" }).count() === 1, "by its reason");
  await shot(page, "fleet", "Fleet health");
  await page.locator("#rollbacks-24h tr", { hasText: "watchdog" }).getByRole("link").click();
  await page.waitForSelector("h1:has-text('Devices')");
  check(await page.getByRole("link", { name: device, exact: true }).count() === 1, "the count links to the rolled-back device");
  await checkAxe(page, "devices (rolled back)");
  await page.getByRole("link", { name: device, exact: true }).click();
  await page.waitForSelector(`h1:has-text('Device ${device}')`);
  check((await page.locator("#rollback-reason").textContent()).trim() === "watchdog", "the slot panel shows the rollback reason");
  check(await page.locator("#trial-history tr", { hasText: "b → a" }).count() === 1, "the trial history shows the return to slot a");
  await shot(page, "device-slots", "Device");

  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForSelector("h1:has-text('Log in')");

  // A user with READ_TARGET only: no controls, and the server refuses the POST anyway.
  await login(page, env("LIMITED_USER"), env("LIMITED_PASSWORD"));
  await page.goto(`${base}/ui/devices/${device}`);
  check(await page.getByRole("button", { name: "Assign" }).count() === 0, "the limited user sees no Assign");
  check(await page.getByRole("button", { name: "Delete device" }).count() === 0, "the limited user sees no Delete");
  check(await page.getByRole("link", { name: "Settings" }).count() === 0, "the limited user sees no Settings");
  const status = await page.evaluate(async (url) => (await fetch(url, { method: "POST" })).status, `${base}/ui/devices/${device}/delete`);
  check(status === 403, `a delete POST by the limited user is refused (HTTP ${status})`);
  await page.goto(`${base}/ui/settings`);
  await shot(page, "forbidden", "Forbidden");
  check((await page.locator("[role=alert]").textContent()).includes("READ_TENANT_CONFIGURATION"), "the refusal names the permission");
} finally {
  shots.save("manifest.json");
  await browser.close();
}
console.log(`${shots.manifest.length} screenshots in ${shots.dir}`);
