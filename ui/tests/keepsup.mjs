// The dashboard keeps up, at the window size $VIEWPORT (1366x768 or 390x844): every page fits
// the window (nothing sticks out sideways), the navigation folds behind a menu button on a phone,
// tables become cards with labelled fields, Settings says the result of Save beside the Save bar
// and asks before unsaved edits are left, and the library updates by itself: files being
// recorded with their size, then the finished recordings (without a reload) with a thumbnail,
// the date filter, the filter summary, and deleting several at once.
// The Go test publishes the streams $A and $B over RTMP on "@event publish".
import { BASE, check, env, event, goTo, noOverflow, run, shot, viewport } from "./lib.mjs";

const narrow = viewport().width < 600;
const tag = narrow ? "phone" : "desktop";
const A = env("A");
// Values new to the server at each window size (both runs share one server).
const origins = narrow ? "https://phone.example" : "https://desk.example";
const origins2 = narrow ? "https://phone2.example" : "https://desk2.example";
const B = env("B");

const pages = [
  ["Streams", "table.streams, .empty"],
  ["Recordings", "table.recordings, .empty"],
  ["Settings", "#set-rest_allowed_origins"],
  ["Retention", "main h1"],
  ["Hooks", "main h1"],
  ["Server", "[data-testid=active-recordings]"],
];

let shots = 0;
const snap = (page, what) => shot(page, `keepsup-${tag}-${String(++shots).padStart(2, "0")}-${what}`);

// inView says whether an element is wholly inside the window.
const inView = (page, selector) =>
  page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    return { ok: r.left >= 0 && r.top >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  });

// labelled checks a table row: a card on a phone, a table row on a desktop, each field named
// shown with its column's name and something in it, none sticking out of the window.
async function labelled(row, labels) {
  const cells = await row.locator("td").evaluateAll((tds) =>
    tds.map((td) => ({ label: td.dataset.label || "", text: td.innerText.trim(), shown: td.getBoundingClientRect().height > 0, right: td.getBoundingClientRect().right })),
  );
  const display = await row.evaluate((tr) => getComputedStyle(tr).display);
  check(narrow ? display === "block" : display === "table-row", `row display ${display}`);
  for (const label of labels) {
    const c = cells.find((x) => x.label.startsWith(label));
    check(c && c.shown && c.text, `the ${label} field: ${JSON.stringify(c)}`);
  }
  check(cells.every((c) => c.right <= viewport().width + 0.5), `a field sticks out: ${JSON.stringify(cells)}`);
  return cells;
}

run(`keepsup-${tag}`, async (page) => {
  const result = { tag, overflow: {} };
  await page.goto(BASE + "/admin/");
  await page.waitForSelector("#password");
  result.overflow.Login = await noOverflow(page, "Login");
  await snap(page, "login");
  await page.fill("#password", env("PASSWORD"));
  await page.click("button[type=submit]");
  await page.waitForSelector("nav.side");

  // The navigation: folded behind the menu button on a phone, always shown on a desktop.
  const navShown = () => page.locator("#nav-items").isVisible();
  check((await navShown()) === !narrow, `navigation shown: ${await navShown()} at ${viewport().width} px`);
  check((await page.locator(".menu-button").isVisible()) === narrow, "the menu button is shown only on narrow screens");
  if (narrow) {
    await page.click(".menu-button");
    check(await navShown(), "the menu button does not open the navigation");
    await snap(page, "menu-open");
    await page.click(".menu-button");
    check(!(await navShown()), "the menu button does not close the navigation");
  }

  // A live stream as a card (phone) or a row, with every field.
  await goTo(page, "Streams");
  event("live");
  const live = page.locator(`tr[data-stream="${env("LIVE")}"]`);
  await live.waitFor({ timeout: 20000 });
  await page.waitForTimeout(1500); // its codecs and bitrate arrive with the next events
  result.streamCells = await labelled(live, ["Stream", "Protocol", "Codecs", "Bitrate", "Status", "Recording", "Actions"]);
  result.overflow.live = await noOverflow(page, "Streams with a stream");
  await snap(page, "streams-live");
  event("live-done");

  for (const [title, ready] of pages) {
    await goTo(page, title);
    await page.waitForSelector(ready);
    await page.waitForTimeout(300);
    check(!narrow || !(await navShown()), `the navigation stays open after going to ${title}`);
    result.overflow[title] = await noOverflow(page, title);
    await snap(page, title.toLowerCase());
  }

  // Settings: the inputs fit the window; unsaved edits are not left without asking; the result of
  // Save shows beside the Save bar, wherever the page is scrolled to.
  await goTo(page, "Settings");
  await page.waitForSelector("#set-rest_allowed_origins");
  await page.locator("#set-rest_allowed_origins").scrollIntoViewIfNeeded();
  const input = await inView(page, "#set-rest_allowed_origins");
  check(input.ok, `the settings input is off-screen: ${JSON.stringify(input)}`);
  await page.fill("#set-rest_allowed_origins", origins);
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    d.dismiss();
  });
  await goTo(page, "Streams");
  await page.waitForTimeout(300);
  check(/unsaved change/.test(asked) && /rest_allowed_origins/.test(asked), `leaving with unsaved edits asked: ${JSON.stringify(asked)}`);
  check((await page.locator("main h1").innerText()) === "Settings", "the page was left although the user chose to stay");
  check((await page.inputValue("#set-rest_allowed_origins")) === origins, "the unsaved edit is gone");
  result.asked = asked;
  if (narrow) await page.click(".menu-button"); // close the menu the click opened
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForTimeout(200);
  await page.click("button[type=submit]");
  await page.waitForSelector(".page-head .banner.ok");
  const saved = await inView(page, ".page-head .banner.ok");
  check(saved.ok, `the save result is off-screen: ${JSON.stringify(saved)}`);
  result.saved = await page.locator(".page-head .banner.ok").innerText();
  check(/Saved rest_allowed_origins/.test(result.saved), `save result: ${result.saved}`);
  await snap(page, "settings-saved");
  // Closing or reloading the tab with an unsaved edit asks too (beforeunload).
  await page.fill("#set-rest_allowed_origins", origins2);
  await page.click("main h1"); // a user gesture: browsers ask on beforeunload only after one
  let unload = "";
  page.once("dialog", (d) => {
    unload = d.type();
    d.dismiss();
  });
  await page.evaluate(() => setTimeout(() => location.reload(), 0));
  await page.waitForTimeout(1000);
  check(unload === "beforeunload", `reloading with an unsaved edit asked: ${JSON.stringify(unload)}`);
  check((await page.inputValue("#set-rest_allowed_origins")) === origins2, "the page reloaded although the user chose to stay");
  await page.click("button:has-text('Discard')");

  // The library, while $A and $B are being recorded and once they are finished, with no reload.
  await goTo(page, "Recordings");
  await page.waitForSelector("table.recordings, .empty");
  await page.evaluate(() => (window.__noReload = true));
  event("publish");
  const writing = page.locator(`tr[data-writing="${A}"]`);
  await writing.waitFor({ timeout: 20000 });
  await page.waitForFunction((n) => /[1-9][0-9.]* (B|KB|MB)/.test(document.querySelector(`tr[data-writing="${n}"]`)?.innerText || ""), A, { timeout: 10000 });
  result.writing = await writing.innerText();
  check(/recording/.test(result.writing), `a file being written: ${result.writing}`);
  result.overflow.writing = await noOverflow(page, "Recordings while recording");
  await snap(page, "recordings-writing");
  const rowA = page.locator(`tr[data-recording="${A}"]`);
  const rowB = page.locator(`tr[data-recording="${B}"]`);
  await rowA.waitFor({ timeout: 30000 });
  await rowB.waitFor({ timeout: 30000 });
  await writing.waitFor({ state: "detached", timeout: 10000 });
  check(await page.evaluate(() => window.__noReload === true), "the page was reloaded");

  // The thumbnail: a JPEG of the first keyframe, served behind the login.
  await page.waitForFunction((n) => {
    const img = document.querySelector(`tr[data-recording="${n}"] img.thumb`);
    return img && img.complete && img.naturalWidth > 0;
  }, A, { timeout: 20000 });
  result.thumb = await rowA.locator("img.thumb").evaluate(async (img) => {
    const r = await fetch(img.src, { credentials: "same-origin" });
    return { width: img.naturalWidth, height: img.naturalHeight, type: r.headers.get("content-type"), status: r.status };
  });
  check(result.thumb.type === "image/jpeg" && result.thumb.width >= 100, `thumbnail: ${JSON.stringify(result.thumb)}`);
  event("thumb"); // the Go test looks for it in records/.streamrec-thumbs

  // Times with seconds and the time zone.
  result.started = await rowA.locator("td[data-label=Started]").innerText();
  check(/\d:\d\d:\d\d/.test(result.started) && /(UTC|GMT|[A-Z]{3,4})/.test(result.started), `started: ${result.started}`);

  // A card (phone) shows every field with its label; a desktop keeps the table.
  result.cells = await labelled(rowA, ["Stream", "Recording", "Started", "Duration", "Size", "Codecs", "Actions"]);
  result.overflow.library = await noOverflow(page, "Recordings");
  await rowA.scrollIntoViewIfNeeded();
  await snap(page, "recordings-cards");

  // The filter summary counts what matches only.
  const summary = () => page.locator(".pager > span").first().innerText();
  await page.fill("input.search", A.replace(/\.mp4$/, ""));
  await rowB.waitFor({ state: "detached" });
  result.summaryOne = await summary();
  check(/of 1 recording matching/.test(result.summaryOne) && /· 1 file,/.test(result.summaryOne), `summary of one: ${result.summaryOne}`);
  await page.fill("input.search", "");
  await rowB.waitFor();
  result.summaryAll = await summary();
  check(/of 2 recordings/.test(result.summaryAll) && /· 2 files,/.test(result.summaryAll), `summary of two: ${result.summaryAll}`);

  // The date filter: from tomorrow nothing, from today both.
  const day = (offset) => {
    const d = new Date(Date.now() + offset * 86400000);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  };
  await page.fill("input[aria-label='From date']", day(1));
  await page.waitForSelector("text=No recording matches the filter");
  await snap(page, "recordings-date-none");
  await page.fill("input[aria-label='From date']", day(0));
  await page.fill("input[aria-label='To date']", day(0));
  await rowA.waitFor();
  await rowB.waitFor();
  await page.fill("input[aria-label='From date']", "");
  await page.fill("input[aria-label='To date']", "");

  // Several deleted at once, after one confirmation.
  await rowA.locator("td.sel input").check();
  await rowB.locator("td.sel input").check();
  check((await page.locator("[data-testid=selected]").innerText()) === "2 selected", "two selected");
  await page.click("button:has-text('Delete selected')");
  await page.waitForSelector(".dialog h2");
  result.confirm = await page.locator(".dialog").innerText();
  check(/2 recordings/.test(result.confirm), `confirmation: ${result.confirm}`);
  await snap(page, "recordings-delete-confirm");
  await page.click(".dialog .btn.danger");
  await rowA.waitFor({ state: "detached" });
  await rowB.waitFor({ state: "detached" });
  result.deleted = await page.locator(".banner.ok").innerText();
  await snap(page, "recordings-deleted");
  return result;
});
