// The public booking page: choose a service, a time, give your details and the number
// of people, book - or, for a full class with a waitlist, join its waitlist.
// A timetable class (the service's data-mode) shows as a week of classes, Monday to
// Sunday: each scheduled session with its time, instructor and places; it is booked
// exactly as a slot is - or, from the chosen session on, every week: the next 4 or 8
// classes or all remaining ones (POST .../series-bookings), all or nothing or only the
// ones with room (and, where the class keeps a waitlist, waiting in line for full ones).
"use strict";

(function () {
  const main = document.getElementById("main");
  const api = main.dataset.api;
  const timezone = main.dataset.timezone;
  const $ = (id) => document.getElementById(id);

  const state = {
    serviceId: null,
    serviceName: "",
    mode: "open", // "timetable": the week of classes
    weekStart: null, // the Monday of the week of classes shown (YYYY-MM-DD)
    loadSeq: 0, // a later load wins over an earlier one still under way
    startDate: null, // first day shown (YYYY-MM-DD); null = today at the outlet
    firstDate: null, // today at the outlet, as the server answered
    slot: null,
    joining: false, // the chosen slot is full: the form joins its waitlist
    idempotencyKey: null,
    submitting: false,
  };

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const { addDays, longDate, hhmm } = window.Slotbook;
  const WORDS = {
    tooMany: (wait) =>
      `Too many requests from your connection. Please try again in ${wait} seconds.`,
    conflict: "Sorry, this time was just taken. Please choose another time.",
    fallback: () => "Something went wrong. Please try again.",
  };
  const errorMessage = (response) => window.Slotbook.errorText(response, WORDS);
  // A refusal (409) in the customer's words, by its code.
  const CONFLICTS = {
    capacity_reached: (party) => party > 1
      ? `Sorry, there are no longer places for ${party} people at this time. ` +
        "Choose fewer people or another time."
      : WORDS.conflict,
    already_booked: () =>
      "You already have a place at this time. To change the number of people, " +
      "use the private link of your booking.",
    already_waiting: () => "You are already on the waitlist for this time.",
    spots_available: () => "A place has opened up at this time: choose it again to book it.",
    waitlist_full: () => "Sorry, the waitlist for this time is full. Please choose another time.",
  };

  // Why one class of a weekly series was not booked, by its code.
  const SERIES_REASONS = {
    capacity_reached: (party) => (party > 1 ? `Full for ${party} people` : "Full"),
    slot_taken: () => "Full",
    already_booked: () => "You already have a place",
    already_waiting: () => "You are already on its waitlist",
    waitlist_full: () => "Full, and its waitlist is full",
    spots_available: () => "A place has opened up",
    staff_unavailable: () => "Not running",
    staff_busy: () => "Not running",
    not_scheduled: () => "Not on the timetable",
    in_past: () => "Already started",
  };
  const seriesReason = (code, party) =>
    SERIES_REASONS[code] ? SERIES_REASONS[code](party) : "Cannot be booked";

  async function refusalMessage(response, party) {
    if (response.status === 409) {
      let code = null;
      try {
        code = (await response.clone().json()).code;
      } catch (e) { /* not JSON */ }
      if (CONFLICTS[code]) return CONFLICTS[code](party);
    }
    return errorMessage(response);
  }

  // Slots

  const timetable = () => state.mode === "timetable";

  function slotButton(slot, day) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = timetable() ? "slot class-session" : "slot";
    button.dataset.date = day;
    button.dataset.start = slot.start_time;
    button.dataset.staff = slot.staff_name;
    const time = document.createElement("span");
    time.className = "slot-time";
    time.textContent = `${hhmm(slot.start_time)} - ${hhmm(slot.end_time)}`;
    const staff = document.createElement("span");
    staff.className = "slot-staff";
    staff.textContent = `with ${slot.staff_name}`;
    const label = document.createElement("span");
    label.className = "slot-label";
    let mark = "\u2713 ";
    let waitlist = null;
    if (slot.waitlist_open) {
      // Full, but its waitlist takes more: the button opens the waitlist form.
      button.classList.add("full", "waitlist-open");
      mark = "\u2715 ";
      waitlist = document.createElement("span");
      waitlist.className = "slot-waitlist";
      waitlist.textContent = timetable()
        ? `Join waitlist (${waitingText(slot.waitlist_length)})`
        : `Join the waitlist (${waitingText(slot.waitlist_length)})`;
    } else if (!slot.bookable) {
      button.disabled = true;
      button.classList.add(slot.label === "Full" ? "full" : "unavailable");
      mark = "\u2715 ";
    } else if (slot.almost_full) {
      button.classList.add("almost-full");
      mark = "! ";
    }
    const markSpan = document.createElement("span");
    markSpan.className = "mark";
    markSpan.setAttribute("aria-hidden", "true");
    markSpan.textContent = mark;
    label.append(markSpan, slot.label);
    button.append(time, staff, label);
    if (waitlist) button.append(waitlist);
    const status = waitlist ? `${slot.label}, ${waitlist.textContent}` : slot.label;
    button.setAttribute(
      "aria-label",
      `${hhmm(slot.start_time)} - ${hhmm(slot.end_time)} with ${slot.staff_name}: ${status}, ` +
        longDate(day),
    );
    if (slot.bookable || slot.waitlist_open) {
      button.addEventListener("click", () => chooseSlot(slot, day));
    }
    li.append(button);
    return li;
  }

  function waitingText(count) {
    if (!count) return "nobody waiting yet";
    return count === 1 ? "1 person waiting" : `${count} people waiting`;
  }

  // The Monday of a date's week (dates as UTC midnights: no browser zone shifts them).
  function mondayOf(isoDate) {
    const weekday = (new Date(`${isoDate}T00:00:00Z`).getUTCDay() + 6) % 7;
    return addDays(isoDate, -weekday);
  }

  async function loadSlots() {
    if (!state.serviceId) return;
    const seq = ++state.loadSeq;
    const status = $("slots-status");
    status.textContent = timetable() ? "Loading classes\u2026" : "Loading times\u2026";
    const params = new URLSearchParams({ service_id: state.serviceId, days: "7" });
    // A week of classes asks from its Monday; the server starts no earlier than today.
    const from = timetable() ? state.weekStart : state.startDate;
    if (from) params.set("start_date", from);
    let response;
    try {
      response = await fetch(`${api}/slots?${params}`, { headers: { Accept: "application/json" } });
    } catch (e) {
      if (seq === state.loadSeq) {
        status.textContent = "Could not load times. Check your connection and try again.";
      }
      return;
    }
    if (seq !== state.loadSeq) return; // another service or week was chosen meanwhile
    if (!response.ok) {
      status.textContent = await errorMessage(response);
      return;
    }
    const body = await response.json();
    if (seq !== state.loadSeq) return;
    if (state.firstDate === null) state.firstDate = body.start_date;
    if (timetable()) {
      if (state.weekStart === null) state.weekStart = mondayOf(body.start_date);
      renderWeek(body);
      return;
    }
    state.startDate = body.start_date;
    renderSlots(body);
  }

  // The week of classes: seven days from Monday, each with its scheduled sessions (the
  // slots listing of a timetable class lists exactly those). Days before today show
  // nothing to book.
  function renderWeek(body) {
    const byDate = new Map(body.days.map((day) => [day.date, day.slots]));
    const week = document.createElement("div");
    week.className = "week";
    let open = 0;
    let listed = 0;
    for (let offset = 0; offset < 7; offset += 1) {
      const date = addDays(state.weekStart, offset);
      const section = document.createElement("section");
      section.className = "week-day";
      section.dataset.date = date;
      const heading = document.createElement("h3");
      const weekday = document.createElement("span");
      weekday.className = "week-day-name";
      weekday.textContent = longDate(date).split(" ")[0];
      const dayMonth = document.createElement("span");
      dayMonth.className = "week-day-date";
      dayMonth.textContent = longDate(date).split(" ").slice(1).join(" ");
      heading.append(weekday, " ", dayMonth);
      section.append(heading);
      const slots = byDate.get(date);
      if (date < state.firstDate || slots === undefined) {
        section.classList.add("past");
        section.append(noClasses(date < state.firstDate ? "Past" : "No classes"));
      } else if (slots.length === 0) {
        section.append(noClasses("No classes"));
      } else {
        const list = document.createElement("ul");
        list.className = "slot-list class-list";
        for (const slot of slots) {
          list.append(slotButton(slot, date));
          listed += 1;
          open += slot.bookable || slot.waitlist_open ? 1 : 0;
        }
        section.append(list);
      }
      week.append(section);
    }
    $("slots").replaceChildren(week);
    const sunday = addDays(state.weekStart, 6);
    $("week-label").textContent = `Week of ${longDate(state.weekStart)} - ${longDate(sunday)}`;
    $("prev-week").disabled = state.weekStart <= mondayOf(state.firstDate);
    const classes = (n) => (n === 1 ? "1 class" : `${n} classes`);
    $("slots-status").textContent = !listed
      ? `No ${state.serviceName} classes this week. Try the next week.`
      : `${classes(listed)} of ${state.serviceName} this week, ${open} open to book or ` +
        `to join the waitlist. Times in ${body.timezone}.`;
  }

  function noClasses(text) {
    const none = document.createElement("p");
    none.className = "no-slots";
    none.textContent = text;
    return none;
  }

  function renderSlots(body) {
    const container = $("slots");
    container.replaceChildren();
    const days = document.createElement("div");
    days.className = "days";
    let offered = 0;
    for (const day of body.days) {
      const section = document.createElement("section");
      section.className = "day";
      const heading = document.createElement("h3");
      heading.textContent = longDate(day.date);
      section.append(heading);
      if (day.slots.length === 0) {
        const none = document.createElement("p");
        none.className = "no-slots";
        none.textContent = "No times";
        section.append(none);
      } else {
        const list = document.createElement("ul");
        list.className = "slot-list";
        for (const slot of day.slots) {
          list.append(slotButton(slot, day.date));
          offered += slot.bookable ? 1 : 0;
        }
        section.append(list);
      }
      days.append(section);
    }
    container.append(days);
    $("week-label").textContent = `${longDate(body.start_date)} - ${longDate(body.end_date)}`;
    $("prev-week").disabled = body.start_date <= state.firstDate;
    $("slots-status").textContent = offered
      ? `${offered} times available this week for ${state.serviceName}. Times in ${body.timezone}.`
      : `No free times this week for ${state.serviceName}. Try later dates.`;
  }

  // Choosing and booking

  function chooseSlot(slot, day) {
    state.slot = { ...slot, date: day };
    state.joining = !slot.bookable && slot.waitlist_open;
    state.idempotencyKey = newKey();
    $("chosen-slot").textContent =
      `${state.serviceName}, ${longDate(day)}, ${hhmm(slot.start_time)} - ${hhmm(slot.end_time)} ` +
      `(${timezone} time) with ${slot.staff_name}` +
      (state.joining ? ` - full, ${waitingText(slot.waitlist_length)}` : "");
    $("step-details").textContent = state.joining ? "3. Join the waitlist" : "3. Your details";
    $("waitlist-note").hidden = !state.joining;
    $("book-button").textContent = submitText();
    choosePartySize(slot);
    $("form-error").textContent = "";
    resetSeries();
    $("confirmation").hidden = true;
    $("waitlist-confirmation").hidden = true;
    $("form-section").hidden = false;
    $("book-button").disabled = false;
    $("step-details").focus();
  }

  function submitText() {
    const count = seriesCount();
    if (count === 1) return state.joining ? "Join the waitlist" : "Book";
    return count === null ? "Book all remaining classes" : `Book ${count} classes`;
  }

  // Every week: offered for a session of a timetable class. "This class only" (1) is the
  // single booking (or waitlist join) as ever; null is all remaining classes.
  function seriesCount() {
    if (!timetable() || $("series-field").hidden) return 1;
    const value = $("series-count").value;
    return value === "all" ? null : Number(value);
  }

  // The class keeps a waitlist when its slots tell how many are waiting (null: none).
  const keepsWaitlist = () => Boolean(state.slot) && state.slot.waitlist_length !== null &&
    state.slot.waitlist_length !== undefined;

  function resetSeries() {
    $("series-field").hidden = !timetable();
    $("series-count").value = "1";
    $("series-available").checked = false;
    $("series-waitlist").checked = false;
    $("series-confirmation").hidden = true;
    showSeriesOptions();
  }

  // The options follow the choice: "only the ones with room" for more than one class,
  // and waiting for a place in full ones when that is ticked and the class has a waitlist.
  function showSeriesOptions() {
    const count = seriesCount();
    const several = count !== 1;
    $("series-options").hidden = !several;
    const waitable = several && $("series-available").checked && keepsWaitlist();
    $("series-waitlist-field").hidden = !waitable;
    if (!waitable) $("series-waitlist").checked = false;
    $("series-refusal").hidden = true;
    $("step-details").textContent =
      state.joining && !several ? "3. Join the waitlist" : "3. Your details";
    $("waitlist-note").hidden = !(state.joining && !several);
    if (!state.submitting) $("book-button").textContent = submitText();
  }

  function onSeriesChange() {
    $("form-error").textContent = "";
    showSeriesOptions();
  }

  // How many people: a class offers up to its spots left (to book) or its capacity (to
  // wait for a place); one-to-one services take one person.
  function choosePartySize(slot) {
    const most = state.joining ? slot.capacity : slot.spots_left;
    const select = $("party-size");
    const options = [];
    for (let n = 1; n <= (most || 1); n += 1) {
      const option = document.createElement("option");
      option.value = String(n);
      option.textContent = n === 1 ? "1 person" : `${n} people`;
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = "1";
    $("party-field").hidden = !(slot.capacity > 1 && most > 1);
    $("party-hint").textContent = state.joining
      ? `Up to ${slot.capacity} people.`
      : `${slot.spots_left} ${slot.spots_left === 1 ? "place" : "places"} left at this time.`;
  }

  // The session chosen and the customer's details, as a booking names them.
  function bookingPayload() {
    const phone = $("phone").value.trim();
    const payload = {
      service_id: state.serviceId,
      staff_id: state.slot.staff_id,
      date: state.slot.date,
      start_time: state.slot.start_time,
      name: $("name").value.trim(),
      email: $("email").value.trim(),
    };
    if (phone) payload.phone = phone;
    payload.party_size = Number($("party-size").value || "1");
    return payload;
  }

  async function submitBooking(event) {
    event.preventDefault();
    if (state.submitting || !state.slot) return; // a double click books once
    const form = $("booking-form");
    if (!form.reportValidity()) return;
    if (seriesCount() !== 1) {
      await submitSeries();
      return;
    }
    state.submitting = true;
    const button = $("book-button");
    button.disabled = true;
    $("form-error").textContent = "";
    const payload = bookingPayload();
    const joining = state.joining;
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    // A booking's key makes a retry book once; a second join is refused (already waiting).
    if (!joining) headers["Idempotency-Key"] = state.idempotencyKey;
    button.textContent = joining ? "Joining\u2026" : "Booking\u2026";
    try {
      const response = await fetch(`${api}/${joining ? "waitlist" : "bookings"}`, {
        method: "POST",
        headers,
        body: JSON.stringify(payload),
      });
      if (response.status === 201) {
        const answer = await response.json();
        if (joining) showPlaceInLine(answer);
        else showConfirmation(answer);
        state.idempotencyKey = null;
        state.slot = null;
      } else {
        $("form-error").textContent = await refusalMessage(response, payload.party_size);
        if (response.status !== 429) state.idempotencyKey = newKey();
        if (response.status === 409) loadSlots();
      }
    } catch (e) {
      // The same key is kept: trying again cannot book twice.
      $("form-error").textContent = window.Slotbook.UNREACHABLE;
    } finally {
      state.submitting = false;
      button.textContent = submitText();
      button.disabled = state.slot === null;
    }
  }

  // Every week from the chosen session: the answer lists each class booked, waiting or
  // refused. All or nothing books none when one has no room: the refusal names those
  // and offers to book only the ones with room.
  async function submitSeries() {
    state.submitting = true;
    const button = $("book-button");
    button.disabled = true;
    $("form-error").textContent = "";
    $("series-refusal").hidden = true;
    const count = seriesCount();
    const available = $("series-available").checked;
    const payload = {
      ...bookingPayload(),
      mode: available ? "available" : "all_or_nothing",
    };
    if (count !== null) payload.count = count;
    if (available && !$("series-waitlist-field").hidden && $("series-waitlist").checked) {
      payload.waitlist = true;
    }
    button.textContent = "Booking\u2026";
    try {
      const response = await fetch(`${api}/series-bookings`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      });
      if (response.status === 201) {
        showSeriesResults(await response.json(), payload.party_size);
        state.slot = null;
      } else if (response.status === 409) {
        let body = null;
        try {
          body = await response.clone().json();
        } catch (e) { /* not JSON */ }
        if (body && body.code === "series_unavailable" && Array.isArray(body.results)) {
          showSeriesRefusal(body.results, payload.mode, payload.party_size);
        } else if (body && body.code === "not_scheduled") {
          $("form-error").textContent =
            "Sorry, this class is no longer on the timetable at this time. " +
            "Please choose another class.";
        } else {
          $("form-error").textContent = await refusalMessage(response, payload.party_size);
        }
        loadSlots();
      } else {
        $("form-error").textContent = await errorMessage(response);
      }
    } catch (e) {
      $("form-error").textContent = window.Slotbook.UNREACHABLE;
    } finally {
      state.submitting = false;
      button.textContent = submitText();
      button.disabled = state.slot === null;
    }
  }

  const sessionWhen = (item) => `${longDate(item.date)}, ${hhmm(item.start_time)}`;

  // One class of the series: when, what came of it, and its private link if any.
  function seriesLine(item, resultText, kind, link) {
    const li = document.createElement("li");
    li.className = `series-item series-${kind}`;
    li.dataset.date = item.date;
    const when = document.createElement("span");
    when.className = "series-when";
    when.textContent = sessionWhen(item);
    const result = document.createElement("span");
    result.className = "series-result";
    result.textContent = resultText;
    li.append(when, " ", result);
    if (link) {
      const a = document.createElement("a");
      a.className = "series-link";
      a.href = new URL(item.manage_path, window.location.origin).toString();
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = ` ${link} on ${sessionWhen(item)}`;
      a.append("Manage", hidden);
      li.append(" ", a);
    }
    return li;
  }

  const classesText = (n) => (n === 1 ? "1 class" : `${n} classes`);

  function showSeriesResults(answer, party) {
    const lines = answer.results.map((item) => {
      if (item.result === "booked") {
        return seriesLine(item, "Booked", "booked", item.manage_path && "your booking");
      }
      if (item.result === "waitlisted") {
        return seriesLine(item, "On the waitlist", "waitlisted",
          item.manage_path && "your place on the waitlist");
      }
      return seriesLine(item, seriesReason(item.code, party), "refused", null);
    });
    $("series-results").replaceChildren(...lines);
    const parts = [`${classesText(answer.booked)} booked`];
    if (answer.waitlisted) parts.push(`${answer.waitlisted} on the waitlist`);
    if (answer.refused) parts.push(`${answer.refused} not booked`);
    const slot = state.slot;
    const people = party > 1 ? `, for ${party} people` : "";
    $("series-summary").textContent =
      `${state.serviceName} with ${slot.staff_name}, ${hhmm(slot.start_time)} - ` +
      `${hhmm(slot.end_time)} (${timezone} time)${people}: ${parts.join(", ")}.`;
    $("form-section").hidden = true;
    $("series-confirmation").hidden = false;
    $("series-title").focus();
    loadSlots();
  }

  function showSeriesRefusal(results, mode, party) {
    const withRoom = results.filter((item) => item.result === "booked");
    const refused = results.filter((item) => item.result !== "booked");
    const lines = results.map((item) =>
      item.result === "booked"
        ? seriesLine(item, "Has room", "room", null)
        : seriesLine(item, seriesReason(item.code, party), "refused", null),
    );
    $("series-refusal-list").replaceChildren(...lines);
    const offer = mode === "all_or_nothing" && withRoom.length > 0;
    const named = refused
      .map((item) => `${longDate(item.date)} (${seriesReason(item.code, party)})`)
      .join(", ");
    $("form-error").textContent = offer
      ? `Nothing was booked: not every class has room. Cannot book ${named}.`
      : `Nothing was booked: none of these ${classesText(results.length)} can be booked.`;
    const button = $("series-only-room");
    button.hidden = !offer;
    button.textContent = `Book only the ${withRoom.length === 1 ? "one" : withRoom.length} ` +
      "with room";
    $("series-refusal").hidden = false;
  }

  function bookOnlyWithRoom() {
    $("series-available").checked = true;
    showSeriesOptions();
    $("booking-form").requestSubmit();
  }

  function showConfirmation(booking) {
    const url = new URL(booking.manage_path, window.location.origin).toString();
    const line = booking.services[0];
    const people = booking.party_size > 1 ? `, for ${booking.party_size} people` : "";
    $("confirm-text").textContent =
      `${line.service_name} with ${line.staff_name} on ${longDate(booking.date)}, ` +
      `${hhmm(booking.start_time)} - ${hhmm(booking.end_time)} (${booking.timezone} time)` +
      `${people}.`;
    const link = $("manage-link");
    link.href = url;
    link.textContent = url;
    const email = $("email").value.trim();
    $("email-notice").textContent = booking.mail_to_files
      ? `A confirmation email with this link for ${email} has been queued; this server has ` +
        "no mail server set up, so it is written to a file in its mail folder instead."
      : `A confirmation email with this link is on its way to ${email}.`;
    $("form-section").hidden = true;
    $("confirmation").hidden = false;
    $("confirm-title").focus();
    loadSlots();
  }

  function showPlaceInLine(entry) {
    const url = new URL(entry.manage_path, window.location.origin).toString();
    $("waitlist-place").textContent = `You are number ${entry.position} in line.`;
    const people = entry.party_size === 1 ? "1 person" : `${entry.party_size} people`;
    $("waitlist-text").textContent =
      `${entry.service_name} with ${entry.staff_name} on ${longDate(entry.date)}, ` +
      `${hhmm(entry.start_time)} - ${hhmm(entry.end_time)} (${entry.timezone} time), ` +
      `for ${people}.`;
    const link = $("waitlist-link");
    link.href = url;
    link.textContent = url;
    $("form-section").hidden = true;
    $("waitlist-confirmation").hidden = false;
    $("waitlist-title").focus();
    loadSlots();
  }

  function onFormInput() {
    // Different details are a different request: they get a key of their own.
    if (state.slot && !state.submitting) state.idempotencyKey = newKey();
  }

  function selectService(input) {
    state.serviceId = input.value;
    state.serviceName = input.dataset.name;
    state.mode = input.dataset.mode === "timetable" ? "timetable" : "open";
    state.weekStart = null;
    state.startDate = null;
    state.firstDate = null;
    state.slot = null;
    $("form-section").hidden = true;
    $("confirmation").hidden = true;
    $("waitlist-confirmation").hidden = true;
    $("series-confirmation").hidden = true;
    $("slots-section").hidden = false;
    $("step-time").textContent = timetable() ? "2. Choose a class" : "2. Choose a time";
    $("prev-week").textContent = timetable() ? "\u2190 Previous week" : "\u2190 Earlier";
    $("next-week").textContent = timetable() ? "Next week \u2192" : "Later \u2192";
    $("slots").replaceChildren();
    $("week-label").textContent = "";
    loadSlots();
  }

  for (const input of document.querySelectorAll('input[name="service"]')) {
    input.addEventListener("change", () => selectService(input));
  }
  $("prev-week").addEventListener("click", () => {
    if (timetable()) {
      state.weekStart = addDays(state.weekStart, -7);
      const first = mondayOf(state.firstDate);
      if (state.weekStart < first) state.weekStart = first;
      loadSlots();
      return;
    }
    state.startDate = addDays(state.startDate, -7);
    if (state.startDate < state.firstDate) state.startDate = state.firstDate;
    loadSlots();
  });
  $("next-week").addEventListener("click", () => {
    if (timetable()) {
      state.weekStart = addDays(state.weekStart, 7);
      loadSlots();
      return;
    }
    state.startDate = addDays(state.startDate, 7);
    loadSlots();
  });
  $("booking-form").addEventListener("submit", submitBooking);
  $("booking-form").addEventListener("input", onFormInput);
  $("change-slot").addEventListener("click", () => {
    $("form-section").hidden = true;
    state.slot = null;
    $("step-time").focus();
  });
  $("book-another").addEventListener("click", () => {
    $("confirmation").hidden = true;
    $("step-time").focus();
  });
  $("series-count").addEventListener("change", onSeriesChange);
  $("series-available").addEventListener("change", onSeriesChange);
  $("series-waitlist").addEventListener("change", onSeriesChange);
  $("series-only-room").addEventListener("click", bookOnlyWithRoom);
  $("series-another").addEventListener("click", () => {
    $("series-confirmation").hidden = true;
    $("step-time").focus();
  });
  $("waitlist-another").addEventListener("click", () => {
    $("waitlist-confirmation").hidden = true;
    $("step-time").focus();
  });
  const checked = document.querySelector('input[name="service"]:checked');
  if (checked) selectService(checked);
})();
