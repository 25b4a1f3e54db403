// The front desk: a day per outlet, one column per staff member; everything through the
// JSON API with the staff member's bearer token (kept in sessionStorage for this tab).
"use strict";

(function () {
  const main = document.getElementById("main");
  const API = main.dataset.api;
  const TOKEN_KEY = "slotbook.desk.token";
  const OUTLET_KEY = "slotbook.desk.outlet";
  const ACTIVE = new Set(["pending", "confirmed", "completed"]);
  const OPEN = new Set(["pending", "confirmed"]);
  const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
  const PX_PER_MINUTE = 1.1;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    outlets: [],
    outlet: null,
    day: null,
    services: new Map(),
    staff: [],
    timeOff: new Map(),
    appointments: [],
    customers: new Map(),
    groups: new Map(),
    openGroup: null,
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

  async function messageOf(response) {
    if (response.status === 429) return "Too many requests; try again shortly.";
    try {
      const body = await response.json();
      if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
      if (body.detail) {
        const code = body.code ? ` (${body.code})` : "";
        return `${body.detail}${code}`;
      }
    } catch (e) { /* not JSON */ }
    return `Request failed (${response.status})`;
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
    if (!response.ok) throw new ApiError(await messageOf(response), response.status);
    return response.json();
  }

  // Dates and times

  function todayAt(timezone) {
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit",
    }).format(new Date());
  }

  function addDays(isoDate, days) {
    const d = new Date(isoDate + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function longDate(isoDate) {
    return new Date(isoDate + "T00:00:00Z").toLocaleDateString("en-GB", {
      weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
    });
  }

  function weekday(isoDate) {
    return WEEKDAYS[(new Date(isoDate + "T00:00:00Z").getUTCDay() + 6) % 7];
  }

  const hhmm = (time) => time.slice(0, 5);
  const minutes = (time) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

  function minutesOfDay(localDateTime, day) {
    // "2026-12-08T09:30:00" relative to midnight of `day`
    const [datePart, timePart] = localDateTime.split("T");
    const dayDiff = Math.round(
      (Date.parse(datePart + "T00:00:00Z") - Date.parse(day + "T00:00:00Z")) / 86400000,
    );
    return dayDiff * 1440 + minutes(timePart || "00:00");
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
    const me = await call("GET", "/auth/me");
    const outlets = await call("GET", "/outlets?limit=500");
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

  // Loading a day

  async function loadDay() {
    const seq = ++state.loadSeq;
    const outlet = state.outlet;
    const day = state.day;
    $("desk-status").textContent = "Loading\u2026";
    try {
      const [staff, services, appointments] = await Promise.all([
        call("GET", `/staff?outlet_id=${encodeURIComponent(outlet.id)}&limit=500`),
        call("GET", "/services?limit=500"),
        call(
          "GET",
          `/appointments?outlet_id=${encodeURIComponent(outlet.id)}` +
            `&start_date=${day}&end_date=${day}&limit=500`,
        ),
      ]);
      const timeOff = await Promise.all(
        staff.items.map((member) =>
          call("GET", `/staff/${member.id}/time-off?limit=500`).then(
            (page) => [member.id, page.items],
            () => [member.id, []],
          ),
        ),
      );
      const missing = [...new Set(appointments.items.map((a) => a.customer_id))].filter(
        (id) => !state.customers.has(id),
      );
      const customers = await Promise.all(
        missing.map((id) => call("GET", `/customers/${id}`).catch(() => null)),
      );
      if (seq !== state.loadSeq) return; // a newer load has started
      for (const customer of customers) {
        if (customer) state.customers.set(customer.id, customer);
      }
      state.staff = staff.items;
      state.services = new Map(services.items.map((s) => [s.id, s]));
      state.timeOff = new Map(timeOff);
      state.appointments = appointments.items;
      render();
      const active = state.appointments.filter((a) => ACTIVE.has(a.status)).length;
      $("desk-status").textContent =
        `${active} booking${active === 1 ? "" : "s"} on this day. Updated ${new Date().toLocaleTimeString("en-GB")}.`;
    } catch (error) {
      if (error.status !== 401 && seq === state.loadSeq) {
        $("desk-status").textContent = `Could not load the day: ${error.message}`;
      }
    }
  }

  // Building the day view

  function buildGroups() {
    const groups = new Map();
    for (const appointment of state.appointments) {
      for (const line of appointment.services) {
        const key = [line.staff_id, line.service_id, line.start_time, line.end_time].join("|");
        if (!groups.has(key)) {
          groups.set(key, {
            key,
            staffId: line.staff_id,
            staffName: line.staff_name,
            serviceId: line.service_id,
            serviceName: line.service_name,
            start: line.start_time,
            end: line.end_time,
            entries: [],
          });
        }
        groups.get(key).entries.push(appointment);
      }
    }
    for (const group of groups.values()) {
      group.active = group.entries.filter((a) => ACTIVE.has(a.status)).length;
      const service = state.services.get(group.serviceId);
      group.isClass = Boolean(service && service.allow_parallel_bookings);
      group.capacity = group.isClass ? service.max_parallel_bookings : 1;
    }
    return groups;
  }

  function customerName(id) {
    const customer = state.customers.get(id);
    return customer ? customer.name : "Customer";
  }

  function blockText(group) {
    const when = `${hhmm(group.start)}-${hhmm(group.end)}`;
    if (group.isClass) return `${group.serviceName} ${when} - ${group.active}/${group.capacity}`;
    const first = group.entries.find((a) => ACTIVE.has(a.status));
    return `${group.serviceName} ${when} - ${customerName(first.customer_id)}`;
  }

  function render() {
    state.groups = buildGroups();
    const day = state.day;
    const dayName = weekday(day);
    const columns = $("columns");
    $("day-title").textContent = `${longDate(day)} at ${state.outlet.name}`;
    $("tz-note").textContent = `Times are local time at the outlet (${state.outlet.timezone}).`;

    const shown = state.staff.filter(
      (m) => m.active || [...state.groups.values()].some((g) => g.staffId === m.id && g.active),
    );
    let from = 8 * 60;
    let to = 18 * 60;
    for (const member of shown) {
      for (const interval of member.working_hours[dayName] || []) {
        from = Math.min(from, minutes(interval.start));
        to = Math.max(to, minutes(interval.end));
      }
    }
    for (const group of state.groups.values()) {
      if (!group.active) continue;
      from = Math.min(from, minutes(group.start));
      to = Math.max(to, minutes(group.end) || 1440);
    }
    from = Math.floor(from / 60) * 60;
    to = Math.min(1440, Math.ceil(to / 60) * 60);
    const height = (to - from) * PX_PER_MINUTE;
    const y = (m) => `${(m - from) * PX_PER_MINUTE}px`;

    const hours = el("div", { className: "hours", "aria-hidden": "true" }, el("div", { className: "spacer" }));
    const hourTrack = el("div", { className: "track", style: { height: `${height}px` } });
    for (let m = from; m <= to; m += 60) {
      hourTrack.append(
        el("span", { className: "hour-label", style: { top: y(m) } }, `${String(m / 60).padStart(2, "0")}:00`),
      );
    }
    hours.append(hourTrack);
    const nodes = [hours];

    for (const member of shown) {
      const working = member.working_hours[dayName] || [];
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
      // Hatched where the staff member does not work
      let cursor = from;
      const sorted = [...working].sort((a, b) => minutes(a.start) - minutes(b.start));
      for (const interval of [...sorted, { start: `${String(to / 60).padStart(2, "0")}:00`, end: null }]) {
        const begin = Math.min(to, minutes(interval.start));
        if (begin > cursor) {
          track.append(el("div", {
            className: "off-hours", "aria-hidden": "true",
            style: { top: y(cursor), height: `${(begin - cursor) * PX_PER_MINUTE}px` },
          }));
        }
        if (interval.end) cursor = Math.max(cursor, minutes(interval.end));
      }
      // Time off
      for (const off of state.timeOff.get(member.id) || []) {
        const start = Math.max(from, minutesOfDay(off.start, day));
        const end = Math.min(to, minutesOfDay(off.end, day));
        if (end <= start) continue;
        track.append(el(
          "div",
          {
            className: "block time-off",
            style: { top: y(start), height: `${(end - start) * PX_PER_MINUTE}px` },
          },
          el("span", { className: "block-title" }, "Time off"),
          off.reason || "",
        ));
      }
      // Appointments and class sessions, in time order (the focus order too)
      const groups = [...state.groups.values()]
        .filter((g) => g.staffId === member.id && g.active)
        .sort((a, b) => minutes(a.start) - minutes(b.start));
      for (const group of groups) {
        const top = minutes(group.start);
        const end = minutes(group.end) || 1440;
        const full = group.isClass && group.active >= group.capacity;
        const almost = group.isClass && !full && group.active > 0.8 * group.capacity;
        const classes = ["block"];
        if (full) classes.push("class-full");
        else if (almost) classes.push("class-almost");
        const text = blockText(group);
        const button = el(
          "button",
          {
            type: "button",
            className: classes.join(" "),
            "data-group": group.key,
            "aria-haspopup": "dialog",
            "aria-label": group.isClass
              ? `${text} booked, with ${member.name}. Open roster`
              : `${text}, with ${member.name}. Open booking`,
            style: {
              top: y(top),
              height: `${Math.max(32, (end - top) * PX_PER_MINUTE - 2)}px`,
            },
          },
          el("span", { className: "block-title" }, text),
        );
        button.addEventListener("click", () => openRoster(group.key));
        track.append(button);
      }
      column.append(track);
      nodes.push(column);
    }
    if (shown.length === 0) {
      nodes.push(el("p", {}, "No staff at this outlet."));
    }
    columns.replaceChildren(...nodes);
  }

  // The roster

  function renderRoster() {
    const group = state.groups.get(state.openGroup);
    const list = $("roster-list");
    if (!group) {
      list.replaceChildren(el("li", {}, "Nobody is booked here any more."));
      $("roster-when").textContent = "";
      return;
    }
    $("roster-title").textContent = `${group.serviceName} ${hhmm(group.start)}-${hhmm(group.end)}`;
    $("roster-when").textContent =
      `${longDate(state.day)} with ${group.staffName} - ` +
      (group.isClass ? `${group.active}/${group.capacity} booked` : `${group.active} booked`);
    const entries = [...group.entries].sort(
      (a, b) => Number(ACTIVE.has(b.status)) - Number(ACTIVE.has(a.status)) ||
        customerName(a.customer_id).localeCompare(customerName(b.customer_id)),
    );
    list.replaceChildren(...entries.map(rosterItem));
  }

  function rosterItem(appointment) {
    const customer = state.customers.get(appointment.customer_id);
    const name = customer ? customer.name : "Customer";
    const contact = customer ? [customer.email, customer.phone].filter(Boolean).join(" \u00b7 ") : "";
    const item = el(
      "li",
      { "data-appointment": appointment.id },
      el(
        "div",
        { className: "info" },
        el("div", { className: "who" }, name),
        contact ? el("div", { className: "contact" }, contact) : null,
        el("div", {}, "Status: ", el("span", { className: `status status-${appointment.status}` },
          appointment.status.replace("_", " "))),
      ),
    );
    if (!OPEN.has(appointment.status)) return item;
    const cancel = el("button", { type: "button", className: "danger" }, "Cancel");
    const noShow = el("button", { type: "button", className: "secondary" }, "No-show");
    const move = el("button", { type: "button", className: "secondary", "aria-expanded": "false" }, "Move");
    cancel.setAttribute("aria-label", `Cancel ${name}`);
    noShow.setAttribute("aria-label", `Mark ${name} as no-show`);
    move.setAttribute("aria-label", `Move ${name} to another time`);
    cancel.addEventListener("click", () =>
      act(`/appointments/${appointment.id}/cancel`, {}, `Cancelled ${name}.`));
    noShow.addEventListener("click", () =>
      act(`/appointments/${appointment.id}/no-show`, undefined, `Marked ${name} as no-show.`));

    const dateId = `move-date-${appointment.id}`;
    const timeId = `move-time-${appointment.id}`;
    const dateInput = el("input", { id: dateId, type: "date", required: true, value: appointment.appointment_date });
    const timeInput = el("input", { id: timeId, type: "time", required: true, step: 60, value: hhmm(appointment.start_time) });
    const moveForm = el(
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
        `/appointments/${appointment.id}/reschedule`,
        { new_date: dateInput.value, new_start_time: timeInput.value },
        `Moved ${name} to ${dateInput.value} ${timeInput.value}.`,
      );
    });
    item.append(el("div", { className: "actions" }, cancel, noShow, move), moveForm);
    return item;
  }

  async function act(path, body, done) {
    $("roster-error").textContent = "";
    const buttons = [...$("roster").querySelectorAll("button")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await call("PUT", path, body);
      await loadDay();
      renderRoster();
      $("desk-status").textContent = `${done} ${$("desk-status").textContent}`;
    } catch (error) {
      if (error.status !== 401) $("roster-error").textContent = error.message;
    } finally {
      $("roster").querySelectorAll("button").forEach((b) => { b.disabled = false; });
      $("roster-close").focus();
    }
  }

  function openRoster(key) {
    state.openGroup = key;
    $("roster-error").textContent = "";
    renderRoster();
    const dialog = $("roster");
    if (!dialog.open) dialog.showModal();
  }

  // Wiring

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => showLogin("You are logged out."));
  $("roster-close").addEventListener("click", () => $("roster").close());
  $("roster").addEventListener("close", () => { state.openGroup = null; });
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
