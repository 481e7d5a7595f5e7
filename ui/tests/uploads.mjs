// Uploads: the page shows the bucket, a file whose uploads fail (FAILING) with the reason, then,
// once the Go test made the bucket (event "failing"), COUNT files uploaded.
import { check, env, event, login, run, shot } from "./lib.mjs";

run("uploads", async (page) => {
  await login(page);
  await page.click("nav >> text=Uploads");
  const failing = page.locator("table.uploads tr", { hasText: env("FAILING") });
  await failing.waitFor({ timeout: 30000 });
  const reason = await failing.locator(".error-text").innerText();
  check(reason.length > 0, "no reason for the failing file");
  const text = await page.locator("main").innerText();
  check(text.includes(env("BUCKET")), `the bucket is not shown: ${text}`);
  await shot(page, "admin-30-uploads-failing");
  event("failing");
  await page.locator("[data-state=uploaded]", { hasText: `uploaded ${env("COUNT")}` }).waitFor({ timeout: 90000 });
  await page.locator("table.uploads").waitFor({ state: "detached" });
  await shot(page, "admin-31-uploads");
  return { reason, text };
});
