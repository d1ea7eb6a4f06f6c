// The join form of an invite link: says, live, whether the person is online.
const page = document.getElementById("join-page");
const target = page.dataset.target;
const line = document.getElementById("target-presence");
const POLL_MS = 5000;

async function check() {
  try {
    const response = await fetch(`/presence/${encodeURIComponent(target)}`, { cache: "no-store" });
    const body = await response.json();
    line.textContent = body.online
      ? `${target} is online. Type your name and press Join, then Call.`
      : `${target} is offline right now. You can join and call when they are back.`;
    line.className = body.online ? "text-success" : "text-body-secondary";
  } catch {
    line.textContent = `Cannot tell whether ${target} is online (no connection to the server).`;
  }
}

check();
setInterval(check, POLL_MS);
