// Retention: the page lists the deletion the Go test caused (name, reason naming the setting)
// and the settings in effect; the Settings page has the three settings in their own section.
import { check, env, login, run, shot } from "./lib.mjs";

run("retention", async (page) => {
  const file = env("FILE");
  await login(page);
  await page.click("nav >> text=Retention");
  const row = page.locator("table.deletions tbody tr", { hasText: file });
  await row.waitFor();
  const text = await row.innerText();
  check(/older than record_delete_after=1h/.test(text), `deletion row: ${text}`);
  const settings = await page.locator("[data-testid=retention-settings]").innerText();
  check(/record_delete_after\s+1h/.test(settings), `settings in effect: ${settings}`);
  check(/record_max_total_size\s+not set/.test(settings), `settings in effect: ${settings}`);
  const banner = await page.locator(".banner.ok").innerText();
  check(/accepted/.test(banner), `banner: ${banner}`);
  await shot(page, "admin-20-retention");
  await page.click("nav >> text=Settings");
  const section = page.locator("section.panel", { has: page.locator("h2", { hasText: /^Retention$/ }) });
  for (const key of ["record_delete_after", "record_min_free_space", "record_max_total_size"]) {
    await section.locator(`[data-key=${key}]`).waitFor();
  }
  return { text, settings };
});
