// "Your devices": Link another device asks the server for a one-time link and shows it.
const button = document.getElementById("link-device");
const shown = document.getElementById("device-link");

if (button && shown) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const body = new URLSearchParams({ csrf_token: button.dataset.csrf });
      const reply = await fetch("/devices/link", { method: "POST", body, credentials: "same-origin" });
      const link = await reply.json();
      if (!link.ok) throw new Error(link.message);
      const minutes = Math.round(link.expires_in / 60);
      shown.textContent = `Open this link in the other browser within ${minutes} minutes; it works once: `;
      const anchor = document.createElement("code");
      anchor.id = "device-link-url";
      anchor.textContent = link.url;
      shown.append(anchor);
    } catch (err) {
      shown.textContent = `No link: ${err.message || "the server did not answer"}. Try again.`;
    } finally {
      shown.hidden = false;
      button.disabled = false;
    }
  });
  button.disabled = false;
}
