// The console's fleet tools in headless Chromium (Playwright core, Debian's /usr/bin/chromium):
// a bulk assignment from the device list (check two devices of a filtered list, assign a set) and
// the retry of a failure group from the failures page. server/tests/ui_fleet_browser.rs prepares
// the devices, the set and the failures, runs this script and checks the outcome and screenshots.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { Shots, check, checkAxe, env, launch, loginAsAdmin } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const shots = new Shots();
const shot = (page, name, heading) => shots.take(page, name, heading);

const { browser, page } = await launch();
try {
  await loginAsAdmin(page, base);

  // Bulk assign: filter the list, check two of its three devices, assign the set.
  await page.getByRole("link", { name: "Devices", exact: true }).click();
  await page.getByLabel("Filter (RSQL, as in the Management API)").fill("controllerId==bulk-*");
  await page.getByRole("button", { name: "Apply", exact: true }).first().click();
  await page.waitForSelector("caption:has-text('3 devices match')");
  check(await page.getByText("All 3 devices matching the filter").isVisible(), "the filter's scope offers all 3 matches");
  await page.getByLabel("Select bulk-1").check();
  await page.getByLabel("Select bulk-2").check();
  await page.locator("#op").selectOption("assign");
  await page.locator("#bulk-type").selectOption("soft");
  await shot(page, "devices-selection", "Devices");
  await page.locator("#bulk").getByRole("button", { name: "Apply" }).click();
  await page.waitForSelector("p.notice");
  const assigned = (await page.locator("p.notice").textContent()).trim();
  check(assigned === "Assigned the set to 2 of 2 selected devices.", `bulk assign reports "${assigned}"`);
  check((await page.locator("#q").inputValue()) === "controllerId==bulk-*", "the list keeps its filter after the action");
  await checkAxe(page, "devices after the bulk action");

  // Failures: grouped by message, retried from the page.
  await page.getByRole("link", { name: "Failures", exact: true }).click();
  await page.waitForSelector("h1:has-text('Failures')");
  const byMessage = page.locator("section", { hasText: "By error message" });
  check(await byMessage.getByRole("cell", { name: "flash write failed" }).isVisible(), "the failure message is a group");
  await shot(page, "failures", "Failures");
  await byMessage.getByRole("link", { name: "2", exact: true }).click();
  await page.waitForSelector("h1:has-text('Failed devices')");
  check(await page.getByRole("link", { name: "fail-1" }).isVisible(), "the group links to its devices");
  await shot(page, "failed-devices", "Failed devices");
  await page.getByRole("button", { name: /Retry the 2 devices/ }).click();
  await page.waitForSelector("p.notice");
  const retried = (await page.locator("p.notice").textContent()).trim();
  check(retried === "Re-assigned 2 of 2 failed devices.", `retry reports "${retried}"`);
  check(await page.getByText("0 devices failed their latest deployment").isVisible(), "no failure is left");
  await checkAxe(page, "failed devices (none left)");
} finally {
  shots.save("fleet-manifest.json");
  await browser.close();
}
