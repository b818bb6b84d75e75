/* A bulk job's progress bar fed by the job's event stream (GET /api/v1/bulk/<id>/events,
   Server-Sent Events): the bar, the percentage and the counts move as each batch commits.
   While the stream is open the part's HTMX polling is held back; when the job is done (or
   the stream cannot be had: no EventSource, 429, a dropped connection) the part is fetched
   once more / polling takes over, so the page ends the same either way. */
(function () {
  "use strict";
  var streaming = false;
  var gaveUp = false;  /* after an error (429, a dropped connection) polling does the rest */

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(data, key) ? String(data[key]) : all;
    });
  }

  function attach(part) {
    var url = part.getAttribute("data-stream");
    if (!url || streaming || gaveUp || !window.EventSource) { return; }
    var source = new EventSource(url);
    streaming = true;
    part.setAttribute("data-streaming", "1");

    function stop(again) {
      source.close();
      streaming = false;
      gaveUp = !again;
      var current = document.getElementById("job-progress");
      if (current) {
        if (window.htmx) {
          /* this one fetch goes; the part's own polling stays held until the answer replaces
             the part (a tick during the fetch would fetch it twice) */
          current.setAttribute("data-streaming", "refresh");
          htmx.ajax("GET", current.getAttribute("hx-get") || url, { target: current, swap: "outerHTML" });
        } else {
          current.removeAttribute("data-streaming");
        }
      }
    }

    source.addEventListener("progress", function (e) {
      var data = JSON.parse(e.data);
      var current = document.getElementById("job-progress");
      if (!current) { return; }
      var bar = document.getElementById("job-bar");
      bar.value = data.percent;
      bar.textContent = data.percent + "%";
      document.getElementById("job-percent").textContent = data.percent + "%";
      var counts = document.getElementById("job-counts");
      counts.textContent = fill(current.getAttribute("data-counts"), data);
    });
    source.addEventListener("done", function () { stop(false); });
    source.addEventListener("timeout", function () { stop(true); });  /* a new stream next */
    source.addEventListener("gone", function () { stop(false); });
    source.onerror = function () { if (streaming) { stop(false); } };
  }

  /* HTMX would poll the part every second: not while the stream feeds it. */
  document.addEventListener("htmx:beforeRequest", function (e) {
    var part = e.detail && e.detail.elt;
    if (!part || part.id !== "job-progress") { return; }
    var state = part.getAttribute("data-streaming");
    if (state === "1") {
      e.preventDefault();
    } else if (state === "refresh") {  /* the fetch stop() asked for: the next ones wait */
      part.setAttribute("data-streaming", "1");
    }
  });
  /* that fetch failed: the part is still the old one, so its polling takes over */
  ["htmx:sendError", "htmx:responseError"].forEach(function (name) {
    document.addEventListener(name, function (e) {
      var part = e.detail && e.detail.elt;
      if (part && part.id === "job-progress" && !streaming) { part.removeAttribute("data-streaming"); }
    });
  });
  document.addEventListener("htmx:load", function (e) {
    if (e.detail && e.detail.elt && e.detail.elt.id === "job-progress") { attach(e.detail.elt); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var part = document.getElementById("job-progress");
    if (part) { attach(part); }
  });
})();
