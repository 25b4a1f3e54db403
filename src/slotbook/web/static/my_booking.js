// A customer's own booking: make the party smaller, or cancel, through the private link.
"use strict";

(function () {
  const main = document.getElementById("main");
  const api = main.dataset.api;
  const $ = (id) => document.getElementById(id);
  const words = (failed) => ({
    tooMany: (wait) => `Too many requests. Please try again in ${wait} seconds.`,
    fallback: () => `Could not ${failed}. Please try again.`,
  });

  // A change through the private link; the page reloads to show the booking as it is now.
  async function change(path, body, errorId, failed) {
    $(errorId).textContent = "";
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const response = await fetch(`${api}/${path}`, {
        method: "PUT",
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.ok) {
        window.location.reload();
        return true;
      }
      $(errorId).textContent = await window.Slotbook.errorText(response, words(failed));
    } catch (e) {
      $(errorId).textContent = window.Slotbook.UNREACHABLE;
    }
    return false;
  }

  const partyForm = $("party-form");
  if (partyForm) {
    partyForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("party-button");
      button.disabled = true;
      const size = Number($("party-size").value);
      const done = await change("party-size", { party_size: size }, "party-error",
        "change the number of people");
      if (!done) button.disabled = false;
    });
  }

  const cancelButton = $("cancel-button");
  if (cancelButton) {
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
      const done = await change("cancel", undefined, "cancel-error", "cancel the booking");
      if (!done) yes.disabled = false;
    });
  }
})();
