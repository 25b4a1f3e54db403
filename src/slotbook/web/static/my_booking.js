// A customer's own booking: cancel it through the private link.
"use strict";

(function () {
  const main = document.getElementById("main");
  const api = main.dataset.api;
  const $ = (id) => document.getElementById(id);
  const WORDS = {
    tooMany: (wait) => `Too many requests. Please try again in ${wait} seconds.`,
    fallback: () => "Could not cancel the booking. Please try again.",
  };
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
      $("cancel-error").textContent = await window.Slotbook.errorText(response, WORDS);
    } catch (e) {
      $("cancel-error").textContent = window.Slotbook.UNREACHABLE;
    }
    yes.disabled = false;
  });
})();
