// What the pages share: local dates and times as the API writes them ("2026-12-07",
// "10:00:00", "2026-12-07T09:30:00", all wall-clock at the outlet) and the wording of a
// failed API answer. Loaded before each page's own script, as window.Slotbook.
"use strict";

window.Slotbook = (function () {
  // Dates are handled as UTC midnights, so no browser time zone or DST change can shift
  // a local date by a day.
  const DAY_MS = 86400000;
  const utc = (isoDate) => new Date(isoDate + "T00:00:00Z");

  function todayAt(timezone) {
    return new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit",
    }).format(new Date());
  }

  function addDays(isoDate, days) {
    const d = utc(isoDate);
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  // "Monday 7 December", or with { year: true } "Monday 7 December 2026".
  function longDate(isoDate, options) {
    const format = { weekday: "long", day: "numeric", month: "long", timeZone: "UTC" };
    if (options && options.year) format.year = "numeric";
    return utc(isoDate).toLocaleDateString("en-GB", format);
  }

  const hhmm = (time) => time.slice(0, 5);
  const minutes = (time) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

  // Minutes from midnight of `day` to a local date-time; negative before that day.
  function minutesOfDay(localDateTime, day) {
    const [datePart, timePart] = localDateTime.split("T");
    const dayDiff = Math.round((utc(datePart) - utc(day)) / DAY_MS);
    return dayDiff * 1440 + minutes(timePart || "00:00");
  }

  // Errors

  const UNREACHABLE = "Could not reach the booking service. Please try again.";
  const DEFAULT_WORDS = {
    tooMany: () => "Too many requests; try again shortly.",
    conflict: null, // a 409's own detail, unless the page words it
    withCode: false, // append the error's code: "Cannot cancel ... (invalid_transition)"
    fallback: (status) => `Request failed (${status})`,
  };

  function retryAfter(response) {
    return response.headers.get("Retry-After") || "a few";
  }

  // The text to show for a failed API answer: the server's detail (a validation error's
  // messages joined), worded by the page for 429, 409 and answers without a detail.
  async function errorText(response, words) {
    const say = { ...DEFAULT_WORDS, ...(words || {}) };
    if (response.status === 429) return say.tooMany(retryAfter(response));
    let body = null;
    try {
      body = await response.json();
    } catch (e) { /* not JSON */ }
    if (body && typeof body === "object") {
      if (response.status === 409 && say.conflict) return say.conflict;
      if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
      if (typeof body.detail === "string" && body.detail) {
        return say.withCode && body.code ? `${body.detail} (${body.code})` : body.detail;
      }
    }
    return say.fallback(response.status);
  }

  return Object.freeze({
    todayAt, addDays, longDate, hhmm, minutes, minutesOfDay,
    UNREACHABLE, retryAfter, errorText,
  });
})();
