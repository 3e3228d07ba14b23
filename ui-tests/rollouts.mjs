// A stuck rollout in headless Chromium (Playwright core, Debian's chromium; issue 19 items 1 and
// 2): the overview says what the fleet runs, the rollout page says what its first group waits for
// (a device that has not polled since the update was assigned, and is offline), and canceling the
// offline device's update from the page lets the rollout move on to its second group.
// server/tests/ui_rollouts.rs prepares the fleet and the started rollout, runs this script and
// checks its screenshots.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, ROLLOUT_ID, FIRST_GROUP, SECOND_GROUP,
// SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { Shots, check, checkAxe, env, launch, loginAsAdmin } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const shots = new Shots();
const shot = (page, name, heading) => shots.take(page, name, heading);

const { browser, page } = await launch();
try {
  page.on("dialog", (d) => d.accept());
  await loginAsAdmin(page, base);

  // What the fleet runs: the old set installed everywhere, the new one assigned to the rollout's
  // started group; each count lists its devices.
  const runs = page.locator("#fleet-runs");
  check(await runs.locator("tr", { hasText: "stuck:1.0" }).count() === 1, "the overview lists the set the rollout installs");
  await shot(page, "overview", "Overview");
  await runs.locator("tr", { hasText: "stuck:1.0" }).locator("td.assigned a").click();
  await page.waitForSelector("h1:has-text('Devices')");
  check(await page.locator("a[href^='/ui/devices/browser']").count() === 2, "the assigned count links to the two devices of the first group");
  await checkAxe(page, "devices assigned the set");

  // The stuck rollout: running, its first group waiting on one offline device.
  const rollout = `${base}/ui/rollouts/${env("ROLLOUT_ID")}`;
  await page.goto(rollout);
  const first = page.locator(`#groups tr[data-group="${env("FIRST_GROUP")}"]`);
  const second = page.locator(`#groups tr[data-group="${env("SECOND_GROUP")}"]`);
  check((await page.locator("#rollout-status .badge").textContent()).trim() === "running", "the rollout is running");
  check(await first.locator("[data-stage=not-polled]", { hasText: "1 not polled since assigned" }).count() === 1, "one device has not polled since its update was assigned");
  check(await first.locator("[data-stage=offline]", { hasText: "1 offline" }).count() === 1, "and it is offline");
  check(await second.locator(".badge", { hasText: "scheduled" }).count() === 1, "the second group waits");
  const unblock = page.locator("section.unblock");
  check(await unblock.getByText("1 more must finish to reach its success threshold of 100 %").count() === 1, "the page says what the group needs");
  check(await unblock.getByRole("button", { name: "Start next group now" }).count() === 1, "it offers to start the next group");
  await shot(page, "rollout-stuck", "Rollout stuck");

  // Cancel the straggler: the group stops waiting, the second group starts.
  await unblock.getByRole("button", { name: "Cancel 1 offline devices' updates" }).click();
  await page.waitForSelector("p.notice:has-text('Canceled the updates of 1 offline devices.')");
  await second.locator(".badge", { hasText: "running" }).waitFor({ timeout: 30000 });
  check(true, "the second group started");
  await first.locator(".badge", { hasText: "finished" }).waitFor({ timeout: 30000 });
  check(true, "the first group finished");
  check(await page.locator("section.unblock").count() >= 1, "the second group now says what it waits for");
  await shot(page, "rollout-moved-on", "Rollout stuck");
} finally {
  shots.save("manifest.json");
  await browser.close();
}
