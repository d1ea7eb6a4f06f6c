// A ring tone made with Web Audio, so there is no sound file to serve.
let context = null;
let timer = null;

function beep(at, frequency) {
  const osc = context.createOscillator();
  const gain = context.createGain();
  osc.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.35);
  osc.connect(gain).connect(context.destination);
  osc.start(at);
  osc.stop(at + 0.4);
}

/** Start ringing until stopRinging(); silent if the browser forbids sound. */
export function startRinging() {
  stopRinging();
  try {
    context = new AudioContext();
    const ring = () => {
      const now = context.currentTime;
      beep(now, 880);
      beep(now + 0.45, 660);
    };
    ring();
    timer = setInterval(ring, 2500);
  } catch {
    context = null;
  }
}

export function stopRinging() {
  clearInterval(timer);
  timer = null;
  context?.close().catch(() => {});
  context = null;
}
