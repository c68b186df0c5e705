// Host acceptance of the browser port: boots the wasm kernel under Node (no
// browser) and drives its shell through the terminal, matching real output
// (markers the shell prints, never the echo of what was typed).
// usage: node tests/browser/host.mjs kernel.wasm initramfs.cpio
import { readFileSync } from 'node:fs';
import { ZeroOS } from '../../web/zos.js';

const [kernelPath, ramfsPath] = process.argv.slice(2);
let output = '';
const decoder = new TextDecoder();
const os = await ZeroOS.boot(readFileSync(kernelPath), readFileSync(ramfsPath), {
  onOutput: (bytes) => {
    const text = decoder.decode(bytes, { stream: true });
    output += text;
    if (process.env.ZOS_ECHO) process.stdout.write(text);
  },
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let passed = 0;
let failed = 0;

// Runs the kernel until `pattern` matches output after `from`, or times out.
async function expect(pattern, from, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = output.slice(from).match(pattern);
    if (match) return from + match.index + match[0].length;
    if (Date.now() > deadline) {
      console.log(`FAIL: ${what}: no ${pattern} within ${timeoutMs} ms`);
      console.log('--- output since then (last 3000 characters) ---\n' + output.slice(from).slice(-3000));
      failed++;
      return -1;
    }
    const status = os.step();
    if (status === 0) await sleep(2);
    if (status === 2) {
      console.log(`FAIL: ${what}: the system halted`);
      failed++;
      return -1;
    }
  }
}

async function step(what, send, pattern, timeoutMs = 20000) {
  const from = output.length;
  if (send !== null) os.input(send);
  const at = await expect(pattern, from, timeoutMs, what);
  if (at >= 0) {
    console.log(`ok: ${what}`);
    passed++;
  }
  return at >= 0;
}

const bootStart = performance.now();
if (!(await step('boot to the shell prompt', null, /[#$] $/, 60000))) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}
console.log(`boot to prompt: ${Math.round(performance.now() - bootStart)} ms`);
await step("sh -c 'exit 42' sets $?", "sh -c 'exit 42'; echo RC=$?\r", /^RC=42\r?$/m);
await step('a pipe', 'echo one two three | wc -w\r', /^\s*3\r?$/m);
await step('ls /', 'ls /; echo LS_RC=$?\r', /bin[\s\S]*etc[\s\S]*^LS_RC=0\r?$/m);
await step(
  'tmpfs file ops',
  'mkdir /tmp/t && echo hello > /tmp/t/f && cat /tmp/t/f > /tmp/t/g && mv /tmp/t/g /tmp/t/h && rm /tmp/t/f && ls /tmp/t && cat /tmp/t/h; echo FILE_RC=$?\r',
  /^h\r?\nhello\r?\nFILE_RC=0\r?$/m,
);
// A process that loops forever: the kernel keeps running other threads (the
// console echoes what is typed meanwhile), and Ctrl-C ends it: status 130.
{
  const from = output.length;
  os.input('yes > /dev/null\r');
  for (let i = 0; i < 30; i++) os.step();
  os.input('typed-while-looping');
  await expect(/typed-while-looping/, from, 20000, 'the console echoes while a process loops');
  if (/[#$] $/.test(output.slice(from))) {
    console.log('FAIL: the looping process ended by itself');
    failed++;
  }
}
await step('Ctrl-C ends a looping process', '\x03', /[#$] $/);
await step('the shell answers after Ctrl-C', 'echo AFTER_INTR=$?\r', /^AFTER_INTR=130\r?$/m);
// Bad programs: refused or killed and reported; the shell goes on.
await step(
  'a trapping process (unreachable) is killed and reported',
  '/usr/share/wasm-tests/unreachable; echo TRAP_RC=$?\r',
  /trap: wasm `unreachable`[\s\S]*^TRAP_RC=(?!0\r?$)\d+\r?$/m,
);
await step(
  'a trapping process (out of bounds) is killed and reported',
  '/usr/share/wasm-tests/out-of-bounds; echo OOB_RC=$?\r',
  /trap: out of bounds memory access[\s\S]*^OOB_RC=(?!0\r?$)\d+\r?$/m,
);
await step(
  'a module asking for 1.2 GiB of memory is refused',
  '/usr/share/wasm-tests/huge-memory; echo HUGE_RC=$?\r',
  /module refused[\s\S]*^HUGE_RC=(?!0\r?$)\d+\r?$/m,
);
await step(
  'a malformed module is refused',
  '/usr/share/wasm-tests/malformed; echo BAD_RC=$?\r',
  /malformed module[\s\S]*^BAD_RC=(?!0\r?$)\d+\r?$/m,
);
await step('the shell still answers', 'echo STILL_HERE\r', /^STILL_HERE\r?$/m);
// A 100 KB paste into `cat > file` (1,000 lines of 99 characters and a
// newline): nothing hangs and what the console's line discipline accepted
// arrives as whole lines. The discipline keeps at most 16 KiB of unread input
// (tty-core MAX_PENDING) and drops the rest, as on the native targets
// (docs/browser.md: flow control from it back to the terminal is missing).
os.input('cat > /tmp/paste\r');
for (let i = 0; i < 20; i++) os.step();
await step(
  'a 100 KB paste neither hangs nor tears lines',
  `${('p'.repeat(99) + '\r').repeat(1000)}\x04wc -c /tmp/paste\r`,
  /^\s*([1-9]\d{2,4}|100)00 \/tmp\/paste\r?$/m,
  120000,
);
await step('the shell answers after the paste', 'echo AFTER_PASTE\r', /^AFTER_PASTE\r?$/m);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
