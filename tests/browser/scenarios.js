// Headless Chromium scenarios against a running serveur, started one at a time by
// tests/it/browser.rs:
//
//   node scenarios.js SCENARIO BASE_URL SCREENSHOT_DIR [FILE...]
//
// SCENARIO is `upload` (the listing's form with its script: file input, then drag and drop),
// `no-js` (the same form with JavaScript disabled: the plain post and its 303), `private`
// (a listing behind --auth, read with and without the browser's Basic credentials) or `ui`
// (the rich page of --ui: sorting links, the filter, themes, keyboard, upload and delete). The last
// line on stdout is one JSON object saying what the browser saw; the Rust test judges it. Any
// failure (a wait past its timeout, a missing element) exits 1 with the error on stderr.
//
// Debian's /usr/bin/chromium, never a downloaded browser; every request it makes must go to
// BASE_URL's host (127.0.0.1), which the result reports for the test to check.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

// Each wait is bounded; a scenario takes a few seconds.
const TIMEOUT_MS = 10000;

const [scenario, base, shots, ...files] = process.argv.slice(2);

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    timeout: TIMEOUT_MS,
    // Playwright gives each launch a fresh temporary --user-data-dir of its own (it refuses one
    // among these arguments) and removes it at close.
    args: [
      "--headless",
      "--no-sandbox", // the tests run as root, where Chromium's sandbox cannot start
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-quic",
      "--disable-sync",
      // Nothing but the server under test: any other host name fails to resolve.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
  const hosts = new Set();
  const newPage = async (options) => {
    // A small window: the pages are short, and the screenshots go into README.
    const context = await browser.newContext({ viewport: { width: 800, height: 360 }, ...options });
    context.on("request", (request) => hosts.add(new URL(request.url()).host));
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    page.setDefaultNavigationTimeout(TIMEOUT_MS);
    return page;
  };
  try {
    const result = await SCENARIOS[scenario](newPage);
    result.hosts = [...hosts];
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

// The names the listing links to, in page order (Python's `<ul><li><a href=…>`).
function listed(page) {
  return page.$$eval("body > ul > li > a", (links) => links.map((a) => a.textContent));
}

// Every POST answer the page receives, as "STATUS content-type".
function postAnswers(page) {
  const answers = [];
  page.on("response", (response) => {
    if (response.request().method() === "POST") {
      answers.push(`${response.status()} ${response.headers()["content-type"] || ""}`.trim());
    }
  });
  return answers;
}

// The names in the rich page's table (--ui), in page order, the parent row left out.
function rows(page) {
  return page.$$eval("#listing tbody tr:not(.up):not([hidden]) td.n a", (links) =>
    links.map((a) => a.textContent),
  );
}

const SCENARIOS = {
  // The form with its script: two files through the file input (each sent by the script with
  // its own progress bar, then the page reloads), then a third dropped on the zone.
  async upload(newPage) {
    const [first, second, dropped] = files;
    const page = await newPage({});
    const answers = postAnswers(page);
    await page.goto(base);
    const title = await page.title();

    await page.setInputFiles("#serveur-upload input[type=file]", [first, second]);
    const reloaded = page.waitForEvent("load");
    await page.click("#serveur-upload button[type=submit]");
    await reloaded;
    await page.waitForSelector(`body > ul a[href="${path.basename(second)}"]`);
    const afterForm = await listed(page);

    // A drop as Playwright tests one: a DataTransfer built in the page holding a File, the
    // drag events dispatched on the zone. The script's drop handler adds the progress bar
    // synchronously, so it is looked at within the same task, before the upload can finish
    // and reload the page.
    const bytes = fs.readFileSync(dropped).toString("base64");
    // The dropped file's POST is held until the page, its progress bar showing, is
    // photographed, then sent on unchanged.
    await page.route(base, async (route) => {
      if (route.request().method() === "POST") {
        await page.screenshot({ path: path.join(shots, "upload-progress.png") });
      }
      await route.continue();
    });
    const reloadedAgain = page.waitForEvent("load");
    const progress = await page.evaluate(
      ([name, base64]) => {
        const raw = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([raw], name, { type: "application/octet-stream" }));
        const zone = document.getElementById("serveur-upload-zone");
        for (const type of ["dragenter", "dragover", "drop"]) {
          zone.dispatchEvent(
            new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }),
          );
        }
        const bars = [...document.querySelectorAll("#serveur-upload-progress progress")];
        return bars.map((bar) => {
          const box = bar.getBoundingClientRect();
          return {
            label: bar.parentElement.textContent.trim(),
            max: bar.max,
            visible: box.width > 0 && box.height > 0,
          };
        });
      },
      [path.basename(dropped), bytes],
    );
    await reloadedAgain;
    await page.waitForSelector(`body > ul a[href="${path.basename(dropped)}"]`);
    const afterDrop = await listed(page);
    await page.screenshot({ path: path.join(shots, "upload.png"), fullPage: true });
    return { title, answers, afterForm, progress, afterDrop };
  },

  // The same form with JavaScript off: the browser posts it itself, the server answers 303 to
  // the listing, and the browser follows.
  async "no-js"(newPage) {
    const [only] = files;
    const page = await newPage({ javaScriptEnabled: false });
    const answers = postAnswers(page);
    await page.goto(base);
    await page.setInputFiles("#serveur-upload input[type=file]", [only]);
    const landed = page.waitForEvent("load");
    await page.click("#serveur-upload button[type=submit]");
    await landed;
    await page.waitForSelector(`body > ul a[href="${path.basename(only)}"]`);
    const after = await listed(page);
    await page.screenshot({ path: path.join(shots, "upload-no-js.png"), fullPage: true });
    return { answers, url: page.url(), after };
  },

  // /private/ with the browser answering the Basic challenge itself (Playwright's
  // httpCredentials), and without credentials; /pub/ open to anyone.
  async private(newPage) {
    const alice = await newPage({ httpCredentials: { username: "alice", password: "pw" } });
    const withCredentials = await alice.goto(new URL("private/", base).href);
    const seen = await listed(alice);
    const title = await alice.title();
    await alice.screenshot({ path: path.join(shots, "private.png"), fullPage: true });

    const anonymous = await newPage({});
    const pub = await anonymous.goto(new URL("pub/", base).href);
    const pubSeen = await listed(anonymous);
    // Without credentials Playwright cancels the browser's Basic prompt, so the navigation
    // fails (net::ERR_INVALID_AUTH_CREDENTIALS) after the server's 401; the statuses of the
    // answers the page received are kept beside the error.
    const statuses = [];
    anonymous.on("response", (response) => statuses.push(response.status()));
    const without = await anonymous.goto(new URL("private/", base).href).then(
      (response) => `${response.status()}`,
      (error) => error.message.split("\n")[0],
    );
    return {
      withCredentials: withCredentials.status(),
      title,
      seen,
      without,
      statuses,
      pub: pub.status(),
      pubSeen,
    };
  },
};

// The rich page (--ui, with --allow-all): its rows, the sort links, the filter box, the dark
// theme, every link reached with Tab, the upload form and a delete; any CSP violation the
// page causes is reported. Screenshots: light, dark and a 360 px phone.
SCENARIOS.ui = async function (newPage) {
  const [upload] = files;
  const page = await newPage({ viewport: { width: 800, height: 600 } });
  const cspErrors = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) {
      cspErrors.push(message.text());
    }
  });
  await page.goto(base);
  const title = await page.title();
  const byName = await rows(page);
  await page.screenshot({ path: path.join(shots, "ui-light.png"), fullPage: true });
  const lightBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);

  // Sorting by links: Size (largest first), then Size again (smallest first).
  await Promise.all([page.waitForEvent("load"), page.click("th.s a")]);
  const bySizeDesc = await rows(page);
  const sizeUrl = page.url();
  await Promise.all([page.waitForEvent("load"), page.click("th.s a")]);
  const bySizeAsc = await rows(page);

  // The filter box, which the script shows.
  await page.goto(base);
  const filterVisible = await page.isVisible("#filter");
  await page.fill("#filter", "file1");
  const filtered = await rows(page);
  await page.fill("#filter", "");

  // Tab through the page: every link and button is reached, in order, within a bound.
  const focusable = await page.$$eval("a[href], button, input:not([hidden])", (all) => all.length);
  const reached = new Set();
  for (let i = 0; i < focusable + 5; i++) {
    await page.keyboard.press("Tab");
    const id = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) {
        return null;
      }
      const all = [...document.querySelectorAll("a[href], button, input:not([hidden])")];
      return all.indexOf(el);
    });
    if (id !== null && id >= 0) {
      reached.add(id);
    }
  }
  const links = await page.$$eval("a[href]", (all) => all.length);
  const linksReached = await page.evaluate(
    (ids) => {
      const all = [...document.querySelectorAll("a[href], button, input:not([hidden])")];
      return ids.filter((i) => all[i] && all[i].matches("a[href]")).length;
    },
    [...reached],
  );

  // Upload through the form's script on the rich page: the page reloads with the new row.
  await page.setInputFiles("#serveur-upload input[type=file]", [upload]);
  const reloaded = page.waitForEvent("load");
  await page.click("#serveur-upload button[type=submit]");
  await reloaded;
  await page.waitForSelector(`#listing a[href="${path.basename(upload)}"]`);
  const afterUpload = await rows(page);

  // Delete with its confirmation: the first dialog is dismissed (nothing happens), the second
  // accepted.
  const dialogs = [];
  let accept = false;
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    if (accept) {
      await dialog.accept();
    } else {
      await dialog.dismiss();
    }
  });
  const button = 'button[aria-label="Delete to-delete.txt"]';
  await page.click(button);
  accept = true;
  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE");
  await page.click(button);
  const deleteStatus = (await deleted).status();
  await page.waitForSelector(button, { state: "detached" });
  const afterDelete = await rows(page);

  // Without JavaScript: the same rows, the sort links still work, no filter box, no delete.
  const plain = await newPage({ javaScriptEnabled: false });
  await plain.goto(base);
  const noJsRows = await rows(plain);
  const noJsFilter = await plain.isVisible("#filter");
  const noJsDelete = await plain.$$eval("button.del", (all) => all.length);
  await Promise.all([plain.waitForEvent("load"), plain.click("th.s a")]);
  const noJsBySize = await rows(plain);

  // Dark theme, as a browser set to dark asks for it; and a phone's width.
  const dark = await newPage({ colorScheme: "dark", viewport: { width: 800, height: 600 } });
  await dark.goto(base);
  const darkBackground = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await dark.screenshot({ path: path.join(shots, "ui-dark.png"), fullPage: true });
  const phone = await newPage({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2 });
  await phone.goto(base);
  const phoneOverflow = await phone.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  const phoneTimeShown = await phone.isVisible("td.m time");
  await phone.screenshot({ path: path.join(shots, "ui-phone.png"), fullPage: true });
  return {
    title,
    byName,
    bySizeDesc,
    bySizeAsc,
    sizeUrl,
    filterVisible,
    filtered,
    links,
    linksReached,
    afterUpload,
    dialogs,
    deleteStatus,
    afterDelete,
    lightBackground,
    darkBackground,
    phoneOverflow,
    phoneTimeShown,
    cspErrors,
    noJsRows,
    noJsFilter,
    noJsDelete,
    noJsBySize,
  };
};

if (!SCENARIOS[scenario] || !base || !shots) {
  console.error(`usage: node scenarios.js {${Object.keys(SCENARIOS).join("|")}} BASE_URL SCREENSHOT_DIR [FILE...]`);
  process.exit(2);
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
