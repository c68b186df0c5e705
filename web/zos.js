// Zero OS in a page (or in Node): loads the kernel module, hands it the
// initramfs and drives it. The kernel never blocks: `step()` runs it for a
// slice of fuel and says whether it has more to do. Used by the page
// (web/index.html) and by the host acceptance test (tests/browser/host.mjs).

export const FUEL_PER_STEP = 2_000_000;

export class ZeroOS {
  constructor(instance, onOutput, onPowerOff) {
    this.instance = instance;
    this.exports = instance.exports;
    this.onOutput = onOutput;
    this.onPowerOff = onPowerOff;
    this.halted = false;
  }

  // kernelBytes, initramfsBytes: Uint8Array/ArrayBuffer. onOutput(Uint8Array).
  static async boot(kernelBytes, initramfsBytes, { onOutput, onPowerOff, framesMib = 192 } = {}) {
    let os = null;
    const start = performance.now();
    const imports = {
      host: {
        console_write: (ptr, len) => {
          const bytes = new Uint8Array(os.exports.memory.buffer, ptr >>> 0, len >>> 0).slice();
          if (onOutput) onOutput(bytes);
        },
        now_ms: () => performance.now() - start,
        power_off: (code) => {
          os.halted = true;
          if (onPowerOff) onPowerOff(code);
        },
      },
    };
    const { instance } = await WebAssembly.instantiate(kernelBytes, imports);
    os = new ZeroOS(instance, onOutput, onPowerOff);
    const ramfs = new Uint8Array(initramfsBytes);
    const at = os.exports.kernel_alloc(ramfs.length) >>> 0;
    if (at === 0) throw new Error('kernel_alloc failed');
    new Uint8Array(os.exports.memory.buffer, at, ramfs.length).set(ramfs);
    const status = os.exports.kernel_init(at, ramfs.length, framesMib);
    if (status !== 0) throw new Error(`kernel_init failed (${status})`);
    return os;
  }

  // Runs up to `fuel` wasm instructions: 0 idle, 1 more to do, 2 halted.
  step(fuel = FUEL_PER_STEP) {
    if (this.halted) return 2;
    return this.exports.kernel_run(BigInt(fuel));
  }

  // Types bytes (a string is sent as UTF-8) into the terminal.
  input(data) {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (bytes.length === 0) return;
    const at = this.exports.kernel_alloc(bytes.length) >>> 0;
    if (at === 0) return;
    new Uint8Array(this.exports.memory.buffer, at, bytes.length).set(bytes);
    this.exports.kernel_input(at, bytes.length);
  }
}
