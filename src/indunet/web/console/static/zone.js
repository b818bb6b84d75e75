/* The page's one time zone in the browser (web/console/zones.py is the server's side).
 *
 * <body data-tz="Asia/Shanghai"> names the zone the server printed the page in. On a first
 * visit (no "tz" cookie) the browser's own zone is stored, so the next page uses it.
 * indunetZone.clock(ms) and indunetZone.axis() format chart times in that zone; charts use
 * ECharts' UTC mode so ticks do not follow the browser's zone, and the labels are ours.
 */
(function () {
  "use strict";
  var name = document.body.getAttribute("data-tz") || "UTC";
  if (!/(?:^|;\s*)tz=/.test(document.cookie)) {
    try {
      var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (mine) {
        document.cookie = "tz=" + encodeURIComponent(mine) + ";path=/;max-age=31536000;samesite=lax";
      }
    } catch (e) { /* an old browser keeps the locale's default */ }
  }
  function formatter(opts) {
    try {
      return new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: name, hourCycle: "h23" }, opts));
    } catch (e) {
      return new Intl.DateTimeFormat("en-CA", Object.assign({ timeZone: "UTC", hourCycle: "h23" }, opts));
    }
  }
  var full = formatter({ year: "numeric", month: "2-digit", day: "2-digit",
                         hour: "2-digit", minute: "2-digit", second: "2-digit" });
  var hm = formatter({ hour: "2-digit", minute: "2-digit" });
  var md = formatter({ month: "2-digit", day: "2-digit" });
  function parts(f, ms) {
    var out = {};
    f.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function clock(ms) {
    var p = parts(full, ms);
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function axisLabel(ms) {
    var t = parts(hm, ms);
    if (t.hour === "00" && t.minute === "00") {
      var d = parts(md, ms);
      return d.month + "-" + d.day;
    }
    return t.hour + ":" + t.minute;
  }
  /* Over two days or more the ticks are whole UTC days, which in most zones are not local
   * midnights (08:00 in Asia/Shanghai): every label then needs its date. */
  function dayLabel(ms) {
    var t = parts(hm, ms);
    var d = parts(md, ms);
    var day = d.month + "-" + d.day;
    return t.hour === "00" && t.minute === "00" ? day : day + " " + t.hour + ":" + t.minute;
  }
  var DAYS = 2 * 86400000;
  function escape(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  window.indunetZone = {
    name: name,
    clock: clock,
    /* Options for an ECharts time axis: labels in the page's zone (dated over two days or more). */
    axis: function (extra) {
      var span = extra && extra.min != null && extra.max != null ? extra.max - extra.min : 0;
      return Object.assign({
        type: "time",
        axisLabel: { formatter: span >= DAYS ? dayLabel : axisLabel, hideOverlap: true },
        axisPointer: { label: { formatter: function (p) { return clock(p.value); } } }
      }, extra || {});
    },
    /* An axis tooltip: the time in the page's zone, then one line per series shown. */
    tooltip: function (params) {
      var list = Array.isArray(params) ? params : [params];
      var first = list[0];
      if (!first) { return ""; }
      var when = Array.isArray(first.value) ? first.value[0] : first.axisValue;
      var lines = [escape(clock(when))];
      list.forEach(function (p) {
        var v = Array.isArray(p.value) ? p.value[1] : p.value;
        if (v === null || v === undefined) { return; }
        lines.push(p.marker + escape(p.seriesName) + " <b>" + escape(String(v)) + "</b>");
      });
      return lines.join("<br>");
    }
  };
})();
