// Dashboard login: a wrong password is refused in words, at once; the next attempt within the
// delay is refused saying when to try again; after it the right one opens the dashboard.
import { BASE, check, env, run, shot } from "./lib.mjs";

run("login", async (page) => {
  await page.goto(BASE + "/admin/");
  await page.waitForSelector("#password");
  await shot(page, "admin-01-login");
  await page.fill("#password", "not-the-password");
  const t0 = Date.now();
  await page.click("button[type=submit]");
  await page.waitForSelector("#login-error");
  const took = Date.now() - t0;
  const text = await page.textContent("#login-error");
  check(/Wrong password/.test(text), `login error says ${JSON.stringify(text)}`);
  await shot(page, "admin-02-login-wrong");
  await page.fill("#password", env("PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForFunction(() => /try again/.test(document.querySelector("#login-error")?.textContent || ""));
  const delayed = await page.textContent("#login-error");
  await page.waitForTimeout(1100);
  await page.fill("#password", env("PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForSelector("nav.side");
  await page.waitForSelector(".empty, table.streams");
  await shot(page, "admin-03-streams-empty");
  // The session survives a reload (cookie), and logging out ends it.
  await page.reload();
  await page.waitForSelector("nav.side");
  await page.click("text=Log out");
  await page.waitForSelector("#password");
  return { wrongPasswordMs: took, error: text, delayed };
});
