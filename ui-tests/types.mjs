// Tags, target types and distribution set types in headless Chromium (Playwright core, Debian's
// /usr/bin/chromium): a device tag with a colour from the picker, a taken name refused next to the
// field, a target type that takes a set type (checkboxes), a device given that type from its page,
// and the rollout form's sentence when the devices' type refuses the set. Desktop and phone (390 px)
// screenshots. server/tests/ui_types.rs prepares the device and the set, runs this script and checks
// the outcome and screenshots through the Management API.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, DEVICE_ID, SET_LABEL, SCREENSHOT_DIR, CHROMIUM.
import { Shots, check, env, launch, loginAsAdmin } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const device = env("DEVICE_ID");
const shots = new Shots();
const shot = (page, name, heading) => shots.take(page, name, heading);

const { browser, page } = await launch();
try {
  await loginAsAdmin(page, base);

  // A device tag with a colour; the same name again is refused at the name field.
  await page.getByRole("link", { name: "Tags", exact: true }).click();
  await page.waitForSelector("h1:has-text('Tags')");
  await page.locator("#devices-new-name").fill("lab");
  await page.locator("#devices-new-colour").fill("#c80050");
  await page.getByRole("button", { name: "Create device tag" }).click();
  await page.waitForSelector("p.notice");
  check(await page.locator("#devices-tags svg.swatch rect[fill='#c80050']").count() === 1, "the new tag shows its colour");
  await page.locator("#devices-new-name").fill("lab");
  await page.getByRole("button", { name: "Create device tag" }).click();
  await page.waitForSelector("#devices-new-name-error");
  const taken = (await page.locator("#devices-new-name-error").textContent()).trim();
  check(taken === "A tag named lab already exists.", `a taken name is refused at the field: "${taken}"`);
  check((await page.locator("#devices-new-name").getAttribute("aria-invalid")) === "true", "the field is marked invalid");
  await shot(page, "tags", "Tags");

  // A target type that takes only "OS with app(s)", created with its checkbox.
  await page.getByRole("link", { name: "Types", exact: true }).click();
  await page.waitForSelector("h1:has-text('Types')");
  await page.locator("#tt-new-name").fill("sensor");
  await page.locator("#tt-new-colour").fill("#1a7f37");
  await page.locator("#target-types").getByLabel(/OS with app\(s\)/).check();
  await page.getByRole("button", { name: "Create target type" }).click();
  await page.waitForSelector("p.notice");
  check(await page.locator("#target-types tr", { hasText: "sensor" }).getByText("OS with app(s)").isVisible(), "the type lists the set type it takes");
  await shot(page, "types", "Types");

  // The device gets the type from its page and says what it takes.
  await page.goto(`${base}/ui/devices/${encodeURIComponent(device)}`);
  await page.locator("#device-type-select").selectOption({ label: "sensor" });
  await page.getByRole("button", { name: "Set type" }).click();
  await page.waitForSelector("p.notice");
  check(await page.locator("#device-type").getByText("takes distribution sets of type").isVisible(), "the device page shows its type");
  await shot(page, "device-type", "Device");

  // A rollout of an OS-only set over that device says why it reaches nobody.
  await page.goto(`${base}/ui/rollouts/new`);
  await page.locator("#r-name").fill("blocked");
  await page.locator("#r-ds").selectOption({ label: env("SET_LABEL") });
  await page.locator("#q").fill(`controllerId==${device}`);
  await page.getByRole("button", { name: "Create rollout" }).click();
  await page.waitForSelector("#form-error");
  const why = (await page.locator("#form-error").textContent()).trim();
  check(why.startsWith("1 device matches the filter, but it cannot take"), `the rollout form says why: "${why}"`);
  check(why.includes("Add OS only to that target type or pick another set."), "and what to do");
  await shot(page, "rollout-incompatible", "New rollout");

  // Phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/ui/tags`);
  await shot(page, "tags-phone", "Tags");
  await page.goto(`${base}/ui/types`);
  await shot(page, "types-phone", "Types");
} finally {
  shots.save("types-manifest.json");
  await browser.close();
}
