// The audit log, users and settings in headless Chromium (Playwright core, Debian's chromium;
// issue 19 item 7): an admin creates a user from a role preset, narrows it with the permission
// checkboxes, changes a setting in minutes, and finds each of these in the audit log with its
// filters, on a desktop and on a 390 px phone. server/tests/audit.rs runs this script and checks
// its screenshots.
//
// Env: UPDRAFT_URL, ADMIN_USER, ADMIN_PASSWORD, SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { Shots, check, env, launch, loginAsAdmin } from "./lib.mjs";

const base = env("UPDRAFT_URL");
const shots = new Shots();

const { browser, page } = await launch();
try {
  page.on("dialog", (d) => d.accept());
  await loginAsAdmin(page, base);

  // A new user from a role preset.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.waitForSelector("h1:has-text('Settings')");
  await page.getByLabel("Username").fill("browser-op");
  await page.getByLabel("Password (12 characters or more)").fill("operator password");
  await page.locator("#user-role").selectOption("operator");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.waitForSelector("p.notice:has-text('Created user browser-op.')");
  const row = page.locator("tr", { hasText: "browser-op" });
  check((await row.textContent()).includes("Operator"), "the new user is listed with the role Operator");
  await shots.take(page, "settings-desktop", "Settings");

  // Narrowed with the checkboxes: an operator who may not delete devices.
  await page.getByRole("link", { name: "Edit user browser-op" }).click();
  await page.waitForSelector("h1:has-text('User browser-op')");
  check(await page.locator("#user-role").inputValue() === "operator", "the edit page shows the preset it matches");
  await page.locator("#user-role").selectOption("custom");
  await page.locator("summary", { hasText: "Permissions" }).click();
  const del = page.locator("input[name=perm][value=DELETE_TARGET]");
  check(await del.isChecked(), "the operator's permissions are ticked");
  await del.uncheck();
  await page.getByRole("button", { name: "Save permissions" }).click();
  await page.waitForSelector("p.notice:has-text('Saved the permissions of browser-op.')");
  check((await page.locator("tr", { hasText: "browser-op" }).textContent()).includes("Custom"), "the user's role is now Custom");

  // A setting in minutes, not HH:MM:SS.
  await page.getByLabel("Overdue after", { exact: true }).fill("10");
  await page.getByLabel("Overdue after unit").selectOption("minutes");
  await page.getByRole("button", { name: "Save configuration" }).click();
  await page.waitForSelector("p.notice:has-text('Saved 1 changed setting(s).')");

  // Each change is in the audit log; the filters narrow it.
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.waitForSelector("h1:has-text('Audit log')");
  for (const action of ["user_create", "user_update", "setting_change", "login"]) {
    check(await page.locator("td code", { hasText: new RegExp(`^${action}$`) }).count() >= 1, `the log shows ${action}`);
  }
  await page.getByLabel("Did").selectOption("user_update");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForSelector("caption:has-text('1 entries match')");
  const entry = page.locator("tbody tr").first();
  check((await entry.textContent()).includes("browser-op"), "filtered by action, the user's update is the one entry");
  check((await entry.textContent()).includes("custom:"), "and it says what the permissions became");
  await shots.take(page, "audit-desktop", "Audit log");

  // The same page on a phone: nothing wider than the screen but the table, which scrolls.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByLabel("Did").selectOption("");
  await page.getByLabel("Who").selectOption("admin");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForSelector("h1:has-text('Audit log')");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 390, `the phone page is ${overflow} px wide`);
  await shots.take(page, "audit-phone", "Audit log");
} finally {
  shots.save("manifest.json");
  await browser.close();
}
