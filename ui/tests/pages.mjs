// Server and Hooks pages, then terminating the stream from the Streams page.
import { check, env, login, run, shot } from "./lib.mjs";

run("pages", async (page) => {
  await login(page);
  await page.click("nav >> text=Server");
  await page.waitForSelector("[data-testid=active-recordings]");
  const server = await page.locator(".cards").innerText();
  check(/version/i.test(server) && /disk free/i.test(server) && /1 stream published/.test(server), `server page: ${server}`);
  await shot(page, "admin-13-server");
  await page.click("nav >> text=Hooks");
  await page.waitForSelector("table.hooks, .empty");
  const hooks = await page.locator("main").innerText();
  await shot(page, "admin-14-hooks");
  await page.click("nav >> text=Streams");
  const row = page.locator(`tr[data-stream="${env("STREAM")}"]`);
  await row.waitFor();
  await row.getByRole("button", { name: "Terminate" }).click();
  await page.waitForSelector(".dialog h2");
  await shot(page, "admin-15-terminate-confirm");
  await page.click(".dialog .btn.danger");
  await row.waitFor({ state: "detached" });
  return { server, hooks };
});
