// One library for many nodes: this node's recording and another node's (in the bucket only)
// are listed with their node and where they are, only this node's may be deleted here; the
// filter by node keeps one of them; the other node's recording plays in the page, served from
// the bucket.
import { check, env, login, run, shot, waitVideo } from "./lib.mjs";

const own = env("OWN"); // this node's file, uploaded: on its disk and in the bucket
const other = env("OTHER"); // the other node's file: in the bucket only

run("library", async (page) => {
  await login(page);
  await page.click("nav >> text=Recordings");
  const ownRow = page.locator(`tr[data-recording="${own}"]`);
  const otherRow = page.locator(`tr[data-recording="${other}"]`);
  await ownRow.waitFor();
  await otherRow.waitFor();
  const ownText = await ownRow.innerText();
  const otherText = await otherRow.innerText();
  check(ownText.includes(env("NODE")) && ownText.includes("uploaded"), `this node's row: ${ownText}`);
  check(otherText.includes(env("OTHER_NODE")) && otherText.includes("bucket"), `the other node's row: ${otherText}`);
  const badge = otherRow.locator(".badge.where");
  const title = await badge.getAttribute("title");
  check((await badge.getAttribute("data-location")) === "bucket" && /bucket only/.test(title || ""), `bucket badge: ${title}`);
  check(await otherRow.getByRole("button", { name: "Delete" }).isDisabled(), "the other node's recording can be deleted here");
  check(!(await ownRow.getByRole("button", { name: "Delete" }).isDisabled()), "this node's recording cannot be deleted");
  await shot(page, "admin-10-library-nodes");

  await page.selectOption("select.node-filter", env("OTHER_NODE"));
  await ownRow.waitFor({ state: "detached" });
  await otherRow.waitFor();
  await shot(page, "admin-11-library-filter-node");

  await otherRow.getByRole("button", { name: "Play" }).click();
  const video = await waitVideo(page, ".player video");
  await page.click("[aria-label='Close player']");
  await page.selectOption("select.node-filter", { label: "All nodes" });
  await ownRow.waitFor();
  return { ownText, otherText, video };
});
