// A customer's own booking: cancel it through the private link.
"use strict";

(function () {
  const main = document.getElementById("main");
  const api = main.dataset.api;
  const $ = (id) => document.getElementById(id);
  const cancelButton = $("cancel-button");
  if (!cancelButton) return;

  cancelButton.addEventListener("click", () => {
    cancelButton.hidden = true;
    $("cancel-confirm").hidden = false;
    $("cancel-yes").focus();
  });
  $("cancel-no").addEventListener("click", () => {
    $("cancel-confirm").hidden = true;
    cancelButton.hidden = false;
    cancelButton.focus();
  });
  $("cancel-yes").addEventListener("click", async () => {
    const yes = $("cancel-yes");
    yes.disabled = true;
    $("cancel-error").textContent = "";
    try {
      const response = await fetch(`${api}/cancel`, {
        method: "PUT",
        headers: { Accept: "application/json" },
      });
      if (response.ok) {
        window.location.reload();
        return;
      }
      let message = "Could not cancel the booking. Please try again.";
      if (response.status === 429) {
        message = `Too many requests. Please try again in ${response.headers.get("Retry-After") || "a few"} seconds.`;
      } else {
        try {
          const body = await response.json();
          if (typeof body.detail === "string") message = body.detail;
        } catch (e) { /* not JSON */ }
      }
      $("cancel-error").textContent = message;
    } catch (e) {
      $("cancel-error").textContent = "Could not reach the booking service. Please try again.";
    }
    yes.disabled = false;
  });
})();
