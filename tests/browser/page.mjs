// Browser acceptance of the browser port: headless Chromium (Debian's, driven
// by puppeteer-core) opens the page served on 127.0.0.1, types into the
// terminal and reads what the terminal shows. Also measures boot to prompt
// (median of 5 loads) and the echo round trip of a keystroke.
// usage: CHROMIUM=/usr/bin/chromium NODE_PATH=.../node_modules node page.mjs URL SCREENSHOT
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.NODE_PATH}/`);
const puppeteer = require('puppeteer-core');
const [url, screenshot] = process.argv.slice(2);
let passed = 0;
let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
  if (ok) passed++;
  else failed++;
  return ok;
}

// What the terminal shows, one string per row (xterm.js's DOM rows).
const screenText = () => document.querySelector('.xterm-rows')?.innerText ?? '';

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--js-flags=--max-old-space-size=4096'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 700 });
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  const boots = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.zos && window.zos.bootMs !== null, { timeout: 90000 });
    boots.push(await page.evaluate(() => window.zos.bootMs));
  }
  boots.sort((a, b) => a - b);
  console.log(`boot to prompt in Chromium: median ${Math.round(boots[2])} ms (${boots.map(Math.round).join(', ')})`);
  check(true, 'the page boots to the shell prompt');

  await page.click('#terminal');
  // Echo round trip: a key typed until the console's echo of it is printed.
  const trips = [];
  for (let i = 0; i < 9; i++) {
    const before = await page.evaluate(() => window.zos.output.length);
    const t0 = performance.now();
    await page.keyboard.type('x');
    await page.waitForFunction((n) => window.zos.output.length > n, { polling: 1, timeout: 10000 }, before);
    trips.push(performance.now() - t0);
  }
  trips.sort((a, b) => a - b);
  console.log(`echo round trip in Chromium: median ${trips[4].toFixed(1)} ms`);
  for (let i = 0; i < 9; i++) await page.keyboard.press('Backspace');

  await page.keyboard.type('echo BROWSER_OK; ls /');
  await page.keyboard.press('Enter');
  const shown = await page
    .waitForFunction(
      (f) => {
        const text = new Function(`return (${f})()`)();
        return /^BROWSER_OK\s*$/m.test(text) && /\bsbin\b/.test(text.split('BROWSER_OK').pop()) && text;
      },
      { timeout: 30000 },
      screenText.toString(),
    )
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(shown !== null, 'typed `echo BROWSER_OK; ls /`: the terminal shows BROWSER_OK and the listing');

  // A looping process does not freeze the page; Ctrl-C ends it.
  await page.keyboard.type('yes > /dev/null');
  await page.keyboard.press('Enter');
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = performance.now();
  await page.evaluate(() => 1 + 1);
  const answerMs = performance.now() - t0;
  check(answerMs < 1000, `the page answers while a process loops (${answerMs.toFixed(1)} ms)`);
  await page.keyboard.down('Control');
  await page.keyboard.press('c');
  await page.keyboard.up('Control');
  await page.keyboard.type('echo LOOP_DONE=$?');
  await page.keyboard.press('Enter');
  const ended = await page
    .waitForFunction(() => /^LOOP_DONE=130\r?$/m.test(window.zos.output), { timeout: 30000 })
    .then(() => true)
    .catch(() => false);
  check(ended, 'Ctrl-C ends the looping process (status 130)');
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
