// The front desk: a day per outlet, one column per staff member, read in one request
// (GET /desk/day). The server decides everything shown - blocks, counts, "almost full",
// what each booking allows, who waits in which order - so this script only draws it and
// calls the appointment, customer and waitlist APIs.
// The staff member's bearer token is kept in sessionStorage for this tab.
"use strict";

(function () {
  const main = document.getElementById("main");
  const API = main.dataset.api;
  const TOKEN_KEY = "slotbook.desk.token";
  const OUTLET_KEY = "slotbook.desk.outlet";
  const PX_PER_MINUTE = 1.1;
  const WORDS = { withCode: true };
  const { todayAt, addDays, longDate, hhmm, minutes, minutesOfDay } = window.Slotbook;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    outlets: [],
    outlet: null,
    day: null,
    view: null, // the last GET /desk/day answer
    openKey: null, // the block whose roster is open
    loadSeq: 0,
  };

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "style") Object.assign(node.style, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && path !== "/auth/login") {
      showLogin("Your session has ended. Please log in again.");
      throw new ApiError("Not logged in", 401);
    }
    if (!response.ok) {
      throw new ApiError(await window.Slotbook.errorText(response, WORDS), response.status);
    }
    return response.json();
  }

  // Login

  function showLogin(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    const dialog = $("roster");
    if (dialog.open) dialog.close();
    $("desk-section").hidden = true;
    $("login-section").hidden = false;
    $("login-error").textContent = message || "";
    $("login-email").focus();
  }

  async function login(event) {
    event.preventDefault();
    const button = $("login-button");
    button.disabled = true;
    $("login-error").textContent = "";
    try {
      const body = await call("POST", "/auth/login", {
        email: $("login-email").value.trim(),
        password: $("login-password").value,
      });
      state.token = body.access_token;
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $("login-password").value = "";
      await start();
    } catch (error) {
      $("login-error").textContent =
        error.status === 401 ? "Incorrect email or password." : error.message;
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    const [me, outlets] = await Promise.all([
      call("GET", "/auth/me"),
      call("GET", "/outlets?limit=500"),
    ]);
    state.outlets = outlets.items;
    const select = $("outlet");
    select.replaceChildren(
      ...state.outlets.map((o) => el("option", { value: o.id }, o.name)),
    );
    const remembered = sessionStorage.getItem(OUTLET_KEY);
    state.outlet =
      state.outlets.find((o) => o.id === remembered) || state.outlets[0] || null;
    $("login-section").hidden = true;
    $("desk-section").hidden = false;
    $("signed-in").textContent = `Signed in as ${me.email}`;
    if (!state.outlet) {
      $("desk-status").textContent = "This business has no outlets yet.";
      return;
    }
    select.value = state.outlet.id;
    state.day = todayAt(state.outlet.timezone);
    $("day").value = state.day;
    await loadDay();
  }

  // Loading a day: one request

  async function loadDay() {
    const seq = ++state.loadSeq;
    const params = new URLSearchParams({ outlet_id: state.outlet.id, date: state.day });
    $("desk-status").textContent = "Loading\u2026";
    try {
      const view = await call("GET", `/desk/day?${params}`);
      if (seq !== state.loadSeq) return; // a newer load has started
      state.view = view;
      render();
      const held = new Set();
      for (const { block } of allBlocks()) {
        for (const entry of block.roster) if (entry.holds_place) held.add(entry.appointment_id);
      }
      $("desk-status").textContent =
        `${held.size} booking${held.size === 1 ? "" : "s"} on this day. ` +
        `Updated ${new Date().toLocaleTimeString("en-GB")}.`;
    } catch (error) {
      if (error.status !== 401 && seq === state.loadSeq) {
        $("desk-status").textContent = `Could not load the day: ${error.message}`;
      }
    }
  }

  function* allBlocks() {
    for (const member of state.view ? state.view.staff : []) {
      for (const block of member.blocks) yield { member, block };
    }
  }

  // Blocks whose every booking was cancelled or missed hold nobody: not drawn, unless
  // someone still waits for a place, or it is a scheduled class session (drawn before
  // anyone books it: 0/12).
  const drawn = (block) => block.taken > 0 || block.waitlist.length > 0 || !!block.session_id;
  const people = (count) => (count === 1 ? "1 person" : `${count} people`);

  // Drawing the day

  function render() {
    const view = state.view;
    const day = view.date;
    $("day-title").textContent = `${longDate(day, { year: true })} at ${view.outlet.name}`;
    $("tz-note").textContent = `Times are local time at the outlet (${view.outlet.timezone}).`;

    let from = 8 * 60;
    let to = 18 * 60;
    for (const member of view.staff) {
      for (const interval of member.working_hours) {
        from = Math.min(from, minutes(interval.start));
        to = Math.max(to, minutes(interval.end));
      }
    }
    for (const { block } of allBlocks()) {
      if (!drawn(block)) continue;
      from = Math.min(from, minutes(block.start_time));
      to = Math.max(to, minutes(block.end_time) || 1440);
    }
    from = Math.floor(from / 60) * 60;
    to = Math.min(1440, Math.ceil(to / 60) * 60);
    const height = (to - from) * PX_PER_MINUTE;
    const y = (m) => `${(m - from) * PX_PER_MINUTE}px`;
    const span = (start, end) => ({ top: y(start), height: `${(end - start) * PX_PER_MINUTE}px` });

    const hours = el("div", { className: "hours", "aria-hidden": "true" }, el("div", { className: "spacer" }));
    const hourTrack = el("div", { className: "track", style: { height: `${height}px` } });
    for (let m = from; m <= to; m += 60) {
      hourTrack.append(
        el("span", { className: "hour-label", style: { top: y(m) } }, `${String(m / 60).padStart(2, "0")}:00`),
      );
    }
    hours.append(hourTrack);
    const nodes = [hours];

    for (const member of view.staff) {
      const working = member.working_hours;
      const hoursText = working.length
        ? working.map((i) => `${hhmm(i.start)}-${hhmm(i.end)}`).join(", ")
        : "Not working";
      const column = el(
        "section",
        { className: "column", "aria-label": `${member.name}, ${hoursText}` },
        el("h3", {}, member.name, el("span", { className: "muted" }, hoursText)),
      );
      const track = el("div", { className: "track", style: { height: `${height}px` } });
      for (let m = from; m <= to; m += 60) {
        track.append(el("div", { className: "hour-line", style: { top: y(m) }, "aria-hidden": "true" }));
      }
      // Hatched where the staff member does not work (the server sends the day's
      // intervals in order).
      let cursor = from;
      for (const interval of [...working, { start: null, end: null }]) {
        const begin = interval.start === null ? to : Math.min(to, minutes(interval.start));
        if (begin > cursor) {
          track.append(el("div", { className: "off-hours", "aria-hidden": "true", style: span(cursor, begin) }));
        }
        if (interval.end) cursor = Math.max(cursor, minutes(interval.end));
      }
      for (const off of member.time_off) {
        const start = Math.max(from, minutesOfDay(off.start, day));
        const end = Math.min(to, minutesOfDay(off.end, day));
        if (end <= start) continue;
        const [startDay, startTime] = off.start.split("T");
        const [endDay, endTime] = off.end.split("T");
        const fromText = startDay === day ? hhmm(startTime) : "";
        const untilText = endDay === day ? hhmm(endTime) : "";
        let when = "All day";
        if (fromText && untilText) when = `${fromText}-${untilText}`;
        else if (fromText) when = `From ${fromText}`;
        else if (untilText) when = `Until ${untilText}`;
        track.append(el(
          "div",
          { className: "block time-off", style: span(start, end) },
          el("span", { className: "block-title" }, "Time off"),
          when,
        ));
      }
      // Sessions and appointments, in time order (the focus order too)
      for (const block of member.blocks.filter(drawn)) {
        track.append(blockButton(member, block, y));
      }
      column.append(track);
      nodes.push(column);
    }
    if (view.staff.length === 0) {
      nodes.push(el("p", {}, "No staff at this outlet."));
    }
    $("columns").replaceChildren(...nodes);
  }

  function blockButton(member, block, y) {
    const top = minutes(block.start_time);
    const end = minutes(block.end_time) || 1440;
    const classes = ["block"];
    if (block.full && block.kind === "class") classes.push("class-full");
    else if (block.almost_full) classes.push("class-almost");
    const waiting = block.waitlist.length ? `${block.waitlist.length} waiting` : null;
    const button = el(
      "button",
      {
        type: "button",
        className: classes.join(" "),
        "data-block": block.key,
        "aria-haspopup": "dialog",
        "aria-label": block.kind === "class"
          ? `${block.label} booked${waiting ? `, ${waiting}` : ""}, with ${member.name}. ` +
            "Open roster"
          : `${block.label}, with ${member.name}. Open booking`,
        style: {
          top: y(top),
          height: `${Math.max(32, (end - top) * PX_PER_MINUTE - 2)}px`,
        },
      },
      el("span", { className: "block-title" }, block.label),
      waiting ? el("span", { className: "block-waiting" }, waiting) : null,
    );
    button.addEventListener("click", () => openRoster(block.key));
    return button;
  }

  // The roster

  function findBlock(key) {
    for (const found of allBlocks()) if (found.block.key === key) return found;
    return null;
  }

  function renderRoster() {
    const found = findBlock(state.openKey);
    const list = $("roster-list");
    if (!found) {
      list.replaceChildren(el("li", {}, "Nobody is booked here any more."));
      $("roster-when").textContent = "";
      $("waitlist-area").replaceChildren();
      return;
    }
    const { member, block } = found;
    $("roster-title").textContent =
      `${block.service_name} ${hhmm(block.start_time)}-${hhmm(block.end_time)}`;
    const waiting = block.waitlist.length ? `, ${block.waitlist.length} waiting` : "";
    $("roster-when").textContent =
      `${longDate(state.view.date, { year: true })} with ${member.name} - ` +
      (block.kind === "class" ? `${block.taken}/${block.capacity} booked` : `${block.taken} booked`) +
      waiting;
    list.replaceChildren(...block.roster.map((entry) => rosterItem(entry, block)));
    if (!block.roster.length) list.append(el("li", { className: "muted" }, "Nobody has booked yet."));
    $("waitlist-area").replaceChildren(...waitlistArea(member, block));
    loadEmails(block);
  }

  // The session's waitlist: who waits, in the order they get a place, and adding someone.
  function waitlistArea(member, block) {
    if (!block.waitlist_enabled) return [];
    const nodes = [el("h3", { id: "waitlist-title" }, `Waitlist (${block.waitlist.length})`)];
    if (block.waitlist.length) {
      nodes.push(el(
        "ol",
        { className: "roster-list waitlist-list", "aria-labelledby": "waitlist-title" },
        ...block.waitlist.map(waitlistItem),
      ));
    } else {
      nodes.push(el("p", { className: "muted" }, "Nobody is waiting."));
    }
    if (block.can_add_to_waitlist) nodes.push(waitlistForm(member, block));
    return nodes;
  }

  function waitlistItem(entry) {
    const name = entry.customer_name;
    const contact = [entry.email, entry.phone].filter(Boolean).join(" \u00b7 ");
    const remove = el(
      "button",
      { type: "button", className: "secondary", "aria-label": `Remove ${name} from the waitlist` },
      "Remove",
    );
    remove.addEventListener("click", () =>
      act(`/waitlist/${entry.entry_id}/cancel`, undefined, `Removed ${name} from the waitlist.`));
    return el(
      "li",
      { "data-entry": entry.entry_id },
      el(
        "div",
        { className: "info" },
        el("div", { className: "who" }, `${entry.position}. ${name}`),
        el("div", {}, `Party: ${people(entry.party_size)}`),
        contact ? el("div", { className: "contact" }, contact) : null,
      ),
      el("div", { className: "actions" }, remove),
    );
  }

  // A waiting customer: the business's customer with this email, else a new one.
  function waitlistForm(member, block) {
    const id = (name) => `waitlist-${name}`;
    const field = (name, label, input) =>
      el("div", { className: "field" }, el("label", { for: id(name) }, label), input);
    const nameInput = el("input", { id: id("name"), autocomplete: "off", required: true, maxlength: 200 });
    const emailInput = el("input", { id: id("email"), type: "email", autocomplete: "off", maxlength: 320 });
    const phoneInput = el("input", { id: id("phone"), type: "tel", autocomplete: "off", maxlength: 30 });
    const party = el("select", { id: id("party") });
    for (let n = 1; n <= block.capacity; n += 1) party.append(el("option", { value: n }, people(n)));
    const form = el(
      "form",
      { className: "waitlist-form", "aria-labelledby": id("form-title") },
      el("h3", { id: id("form-title") }, "Add to the waitlist"),
      field("name", "Name", nameInput),
      field("email", "Email (optional)", emailInput),
      field("phone", "Phone (optional)", phoneInput),
      field("party", "Number of people", party),
      el("button", { type: "submit" }, "Add to waitlist"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = nameInput.value.trim();
      const email = emailInput.value.trim();
      const phone = phoneInput.value.trim();
      run(async () => {
        let customer = null;
        if (email) {
          const found = await call("GET", `/customers?${new URLSearchParams({ q: email, limit: "50" })}`);
          customer = found.items.find((c) => (c.email || "").toLowerCase() === email.toLowerCase());
        }
        if (!customer) {
          const fields = { name };
          if (email) fields.email = email;
          if (phone) fields.phone = phone;
          customer = await call("POST", "/customers", fields);
        }
        const entry = await call("POST", "/waitlist", {
          outlet_id: state.view.outlet.id,
          customer_id: customer.id,
          service_id: block.service_id,
          staff_id: member.id,
          date: state.view.date,
          start_time: block.start_time,
          party_size: Number(party.value),
        });
        return `Added ${customer.name} to the waitlist (number ${entry.position} in line).`;
      });
    });
    return form;
  }

  // What was emailed to each person in the roster: one request for the whole roster.
  async function loadEmails(block) {
    const ids = block.roster.map((entry) => entry.appointment_id);
    if (!ids.length) return;
    const query = ids.map((id) => `appointment_id=${encodeURIComponent(id)}`).join("&");
    let log;
    try {
      log = await call("GET", `/emails?${query}`);
    } catch (error) {
      return; // the roster works without it
    }
    for (const id of ids) {
      const node = document.querySelector(`#roster-list li[data-appointment="${id}"] .emails`);
      if (!node) continue;
      const mine = log.items.filter((email) => email.appointment_id === id);
      node.textContent = mine.length ? mine.map(emailText).join(" \u00b7 ") : "No email yet";
    }
  }

  function emailText(email) {
    const kind = email.kind.charAt(0).toUpperCase() + email.kind.slice(1);
    if (email.status === "sent") {
      return email.written_to_file ? `${kind} email written to file` : `${kind} email sent`;
    }
    return email.status === "retrying" ? `${kind} email retrying` : `${kind} email failed`;
  }

  function rosterItem(entry, block) {
    const name = entry.customer_name;
    const contact = [entry.email, entry.phone].filter(Boolean).join(" \u00b7 ");
    const item = el(
      "li",
      { "data-appointment": entry.appointment_id },
      el(
        "div",
        { className: "info" },
        el("div", { className: "who" }, name),
        contact ? el("div", { className: "contact" }, contact) : null,
        el("div", {}, "Status: ", el("span", { className: `status status-${entry.status}` },
          entry.status.replace("_", " "))),
        entry.party_size > 1 || entry.can_change_party_size
          ? el("div", { className: "party" }, `Party: ${people(entry.party_size)}`)
          : null,
        entry.notes ? el("div", { className: "contact" }, `Notes: ${entry.notes}`) : null,
        entry.email ? el("div", { className: "contact emails" }, "") : null,
      ),
    );
    const path = `/appointments/${entry.appointment_id}`;
    const buttons = [];
    const button = (text, label, kind) => {
      const node = el("button", { type: "button", className: kind, "aria-label": label }, text);
      buttons.push(node);
      return node;
    };
    if (entry.can_cancel) {
      button("Cancel", `Cancel ${name}`, "danger").addEventListener("click", () =>
        act(`${path}/cancel`, {}, `Cancelled ${name}.`));
    }
    if (entry.can_no_show) {
      button("No-show", `Mark ${name} as no-show`, "secondary").addEventListener("click", () =>
        act(`${path}/no-show`, undefined, `Marked ${name} as no-show.`));
    }
    let partyForm = null;
    if (entry.can_change_party_size) {
      const change = button("Party size", `Change the party size of ${name}`, "secondary");
      change.setAttribute("aria-expanded", "false");
      const partyId = `party-${entry.appointment_id}-${block.service_id}`;
      const partyInput = el("input", {
        id: partyId, type: "number", required: true, min: 1, max: block.capacity, step: 1,
        value: entry.party_size,
      });
      partyForm = el(
        "form",
        { className: "move-form", hidden: true },
        el("div", { className: "field" }, el("label", { for: partyId }, "Number of people"), partyInput),
        el("button", { type: "submit" }, "Save party size"),
      );
      change.addEventListener("click", () => {
        partyForm.hidden = !partyForm.hidden;
        change.setAttribute("aria-expanded", String(!partyForm.hidden));
        if (!partyForm.hidden) partyInput.focus();
      });
      partyForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const size = Number(partyInput.value);
        act(`${path}/party-size`, { party_size: size }, `${name}'s party is now ${people(size)}.`);
      });
    }
    let moveForm = null;
    if (entry.can_move) {
      const move = button("Move", `Move ${name} to another time`, "secondary");
      move.setAttribute("aria-expanded", "false");
      const dateId = `move-date-${entry.appointment_id}-${block.service_id}`;
      const timeId = `move-time-${entry.appointment_id}-${block.service_id}`;
      const dateInput = el("input", { id: dateId, type: "date", required: true, value: entry.appointment_date });
      const timeInput = el("input", {
        id: timeId, type: "time", required: true, step: 60, value: hhmm(entry.appointment_start_time),
      });
      moveForm = el(
        "form",
        { className: "move-form", hidden: true },
        el("div", { className: "field" }, el("label", { for: dateId }, "New date"), dateInput),
        el("div", { className: "field" }, el("label", { for: timeId }, "New time"), timeInput),
        el("button", { type: "submit" }, "Move here"),
      );
      move.addEventListener("click", () => {
        moveForm.hidden = !moveForm.hidden;
        move.setAttribute("aria-expanded", String(!moveForm.hidden));
        if (!moveForm.hidden) dateInput.focus();
      });
      moveForm.addEventListener("submit", (event) => {
        event.preventDefault();
        act(
          `${path}/reschedule`,
          { new_date: dateInput.value, new_start_time: timeInput.value },
          `Moved ${name} to ${dateInput.value} ${timeInput.value}.`,
          { follow: entry.appointment_id, serviceId: block.service_id },
        );
      });
    }
    if (buttons.length) item.append(el("div", { className: "actions" }, ...buttons));
    if (partyForm) item.append(partyForm);
    if (moveForm) item.append(moveForm);
    return item;
  }

  // After a move, a roster whose block is gone follows the moved booking (if it is
  // still on the day shown).
  function followMoved(follow) {
    if (!follow || findBlock(state.openKey)) return;
    for (const { block } of allBlocks()) {
      if (block.service_id === follow.serviceId &&
          block.roster.some((entry) => entry.appointment_id === follow.follow)) {
        state.openKey = block.key;
        return;
      }
    }
  }

  // A change from the roster: `work` makes it and answers what to tell; then the day
  // and the roster are read again.
  async function run(work, follow) {
    $("roster-error").textContent = "";
    $("roster").querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const done = await work();
      await loadDay();
      followMoved(follow);
      renderRoster();
      $("desk-status").textContent = `${done} ${$("desk-status").textContent}`;
    } catch (error) {
      if (error.status !== 401) $("roster-error").textContent = error.message;
    } finally {
      $("roster").querySelectorAll("button").forEach((b) => { b.disabled = false; });
      $("roster-close").focus();
    }
  }

  function act(path, body, done, follow) {
    return run(async () => {
      await call("PUT", path, body);
      return done;
    }, follow);
  }

  function openRoster(key) {
    state.openKey = key;
    $("roster-error").textContent = "";
    renderRoster();
    const dialog = $("roster");
    if (!dialog.open) dialog.showModal();
  }

  // Wiring

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => showLogin("You are logged out."));
  $("roster-close").addEventListener("click", () => $("roster").close());
  $("roster").addEventListener("close", () => {
    state.openKey = null;
    // Nothing of a closed roster stays in the page (its forms and their labels).
    $("roster-list").replaceChildren();
    $("waitlist-area").replaceChildren();
  });
  $("outlet").addEventListener("change", (event) => {
    state.outlet = state.outlets.find((o) => o.id === event.target.value) || state.outlet;
    sessionStorage.setItem(OUTLET_KEY, state.outlet.id);
    loadDay();
  });
  $("day").addEventListener("change", (event) => {
    if (!event.target.value) return;
    state.day = event.target.value;
    loadDay();
  });
  const shift = (days) => {
    state.day = addDays(state.day, days);
    $("day").value = state.day;
    loadDay();
  };
  $("prev-day").addEventListener("click", () => shift(-1));
  $("next-day").addEventListener("click", () => shift(1));
  $("today").addEventListener("click", () => {
    state.day = todayAt(state.outlet.timezone);
    $("day").value = state.day;
    loadDay();
  });

  if (state.token) {
    start().catch((error) => {
      if (error.status !== 401) showLogin(error.message);
    });
  } else {
    showLogin("");
  }
})();
