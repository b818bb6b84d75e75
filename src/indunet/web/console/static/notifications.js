// Notification pages: the channel form shows (and submits) only the fields of the chosen
// kind; forms with data-confirm ask before they post (deleting a channel or a rule).
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
  var kind = document.getElementById("channel-kind");
  if (!kind) return;
  function show() {
    document.querySelectorAll("#channel-form fieldset[data-kind]").forEach(function (set) {
      var on = set.getAttribute("data-kind") === kind.value;
      set.hidden = !on;
      set.disabled = !on;
    });
  }
  kind.addEventListener("change", show);
  show();
})();
