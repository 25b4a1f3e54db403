// A customer's place on a waitlist: leave it through the private link. While waiting,
// the page looks again every 30 seconds and reloads when the place or status changed
// (a freed spot makes the entry a booking, shown with its link).
"use strict";

(function () {
  const main = document.getElementById("main");
  const api = main.dataset.api;
  const $ = (id) => document.getElementById(id);
  const WORDS = {
    tooMany: (wait) => `Too many requests. Please try again in ${wait} seconds.`,
    fallback: () => "Could not leave the waitlist. Please try again.",
  };
  const CHECK_EVERY_MS = 30000;

  if (main.dataset.status === "waiting") {
    const check = async () => {
      try {
        const response = await fetch(api, { headers: { Accept: "application/json" } });
        if (response.ok) {
          const entry = await response.json();
          const position = entry.position === null ? "" : String(entry.position);
          if (entry.status !== main.dataset.status || position !== main.dataset.position) {
            window.location.reload();
            return;
          }
        }
      } catch (e) { /* offline for a moment: look again later */ }
      window.setTimeout(check, CHECK_EVERY_MS);
    };
    window.setTimeout(check, CHECK_EVERY_MS);
  }

  const leaveButton = $("leave-button");
  if (!leaveButton) return;
  leaveButton.addEventListener("click", () => {
    leaveButton.hidden = true;
    $("leave-confirm").hidden = false;
    $("leave-yes").focus();
  });
  $("leave-no").addEventListener("click", () => {
    $("leave-confirm").hidden = true;
    leaveButton.hidden = false;
    leaveButton.focus();
  });
  $("leave-yes").addEventListener("click", async () => {
    const yes = $("leave-yes");
    yes.disabled = true;
    $("leave-error").textContent = "";
    try {
      const response = await fetch(`${api}/cancel`, {
        method: "PUT",
        headers: { Accept: "application/json" },
      });
      // 409: promoted or closed meanwhile; the reloaded page says which.
      if (response.ok || response.status === 409) {
        window.location.reload();
        return;
      }
      $("leave-error").textContent = await window.Slotbook.errorText(response, WORDS);
    } catch (e) {
      $("leave-error").textContent = window.Slotbook.UNREACHABLE;
    }
    yes.disabled = false;
  });
})();
