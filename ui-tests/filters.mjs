// Saved filters and the full rollout form in headless Chromium (Playwright core, Debian's
// chromium; issue 19 item 5): the device list's query is saved as a filter, a bad query is named
// at its field, an auto-assignment is set; a rollout is created from the saved filter with groups
// one by one, confirmation and a start time; a finished rollout's failed devices are retried from
// its page. Desktop (1280 px) and phone (390 px) screenshots. server/tests/ui_filters.rs prepares
// the devices, the set and the finished rollout, runs this script and checks its screenshots.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, DS_LABEL, FINISHED_ROLLOUT_ID, SCREENSHOT_DIR,
// CHROMIUM (default /usr/bin/chromium).
import { Shots, check, env, launch, loginAsAdmin } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const dsLabel = env("DS_LABEL");
const shots = new Shots();
const shot = (page, name, heading) => shots.take(page, name, heading);

const { browser, page } = await launch();
try {
  page.on("dialog", (d) => d.accept());
  await loginAsAdmin(page, base);

  // Save the device list's query as a filter.
  await page.goto(`${base}/ui/devices?q=${encodeURIComponent("controllerId==fl-*")}`);
  await page.getByRole("link", { name: "Save this filter" }).click();
  await page.waitForSelector("h1:has-text('Target filters')");
  check((await page.getByLabel("Query (RSQL, as on the devices page)").inputValue()) === "controllerId==fl-*", "the device list's query fills the form");
  await page.getByLabel("Name", { exact: true }).fill("fleet-lab");
  await page.getByRole("button", { name: "Save filter" }).click();
  await page.waitForSelector("h1:has-text('Filter fleet-lab')");
  check(await page.getByRole("link", { name: "3 devices" }).count() === 1, "the filter's page counts the devices it matches");

  // A bad query is named at its field, and the form keeps what was typed.
  const query = page.getByLabel("Query (RSQL, as on the devices page)");
  await query.fill("nme==x");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.locator("#f-q-error", { hasText: "Unknown field" }).waitFor();
  check((await query.getAttribute("aria-invalid")) === "true", "the bad query is marked at its field");
  await shot(page, "filter-error", "Filter fleet-lab");

  // Auto-assignment.
  await page.getByLabel("Distribution set").selectOption({ label: dsLabel });
  await page.getByLabel("Action type").selectOption("soft");
  await page.getByLabel("Weight (0–1000, optional)").fill("500");
  await page.getByRole("button", { name: "Set auto-assignment" }).click();
  await page.waitForSelector("p.notice:has-text('Auto-assignment set')");
  check((await page.locator("#auto-assign-now").textContent()).includes("soft · weight 500"), "the page shows the auto-assignment");
  await shot(page, "filter", "Filter fleet-lab");
  await page.goto(`${base}/ui/filters`);
  check(await page.locator("#filters tr", { hasText: "fleet-lab" }).count() === 1, "the list shows the filter");
  await shot(page, "filters", "Target filters");

  // The full rollout form: the saved filter, groups one by one, confirmation, a start time.
  await page.goto(`${base}/ui/rollouts/new`);
  await page.getByLabel("Name", { exact: true }).fill("fl-rollout");
  await page.getByLabel("Distribution set").selectOption({ label: dsLabel });
  await page.getByLabel("Or pick a saved filter").selectOption({ label: "fleet-lab (controllerId==fl-*)" });
  await page.getByRole("button", { name: "Preview" }).click();
  await page.locator("#q-preview", { hasText: "3 devices match" }).waitFor();
  check((await page.getByLabel("Target filter").inputValue()) === "controllerId==fl-*", "the picked filter fills the target filter");
  await page.getByLabel("Groups one by one").check();
  await page.getByLabel("Group 1", { exact: true }).fill("first");
  await page.getByLabel("Group 1 filter").fill("controllerId==fl-1");
  await page.getByLabel("Group 2", { exact: true }).fill("rest");
  await page.getByLabel("Devices must confirm the update before it installs").check();
  await page.getByLabel("Start at a time").check();
  await page.getByLabel("Start time (UTC)").fill("2030-01-01T10:00");
  await shot(page, "rollout-form", "New rollout");
  await page.getByRole("button", { name: "Create rollout" }).click();
  await page.waitForSelector("h1:has-text('Rollout fl-rollout')");
  check(await page.locator("#groups tr[data-group]").count() === 2, "the rollout has the two groups");
  check(await page.getByText("2030-01-01 10:00:00 UTC").count() >= 1, "it starts at the time given");
  await shot(page, "rollout-created", "Rollout fl-rollout");

  // Retry the failed devices of a finished rollout.
  await page.goto(`${base}/ui/rollouts/${env("FINISHED_ROLLOUT_ID")}`);
  await page.getByRole("button", { name: "Retry 1 failed devices" }).click();
  await page.waitForSelector("h1:has-text('_retry')");
  check(await page.locator("#rollout-status", { hasText: "ready" }).count() === 1, "the retry rollout is ready to start");
  await shot(page, "rollout-retry", "Rollout");

  // The same pages on a phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const small = await phone.newPage();
  small.setDefaultTimeout(15000);
  await loginAsAdmin(small, base);
  await small.goto(`${base}/ui/filters`);
  await shot(small, "phone-filters", "Target filters");
  await small.locator("#filters a", { hasText: "fleet-lab" }).click();
  await small.waitForSelector("h1:has-text('Filter fleet-lab')");
  await shot(small, "phone-filter", "Filter fleet-lab");
  await small.goto(`${base}/ui/rollouts/new`);
  await shot(small, "phone-rollout-form", "New rollout");
  await phone.close();
} finally {
  shots.save("manifest.json");
  await browser.close();
}
